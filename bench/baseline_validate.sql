-- The checks `kpidsl run` must make before scoring (docs/data.md), on the two inputs the staff score
-- reads, written by hand in plain DuckDB SQL: the part of the run the scoring query alone leaves out.
-- `bench/run_bench.py` runs it before bench/baseline_staff.sql in one process, as a second yardstick.
--
-- Parameters: $people, $tasks (Parquet files), $period_start, $period_end.
-- One row: the number of problems of each kind. The generated data has none; every check still
-- reads every row it concerns, as a run must.
--
-- Rules, from the inputs of frameworks/central/central.kpi:
--   people: person_id present and unique; unit_id present (the units file is not read here, so
--           references to units are left out); role one of staff, deputy, head; general_points
--           present and between 0 and 30.
--   tasks of the period (due in the period): task_id present and unique over the whole file;
--           person_id present and naming a person; kind one of planned, unexpected;
--           coefficient > 0 when given; errors and delays >= 0 when given; due present.

WITH people AS (
    SELECT person_id, unit_id, role, general_points FROM read_parquet($people)
),
tasks AS (
    SELECT task_id, person_id, kind, coefficient, due, errors, delays FROM read_parquet($tasks)
),
people_problems AS (
    SELECT
        count(*) FILTER (WHERE person_id IS NULL) AS no_person_id,
        count(*) FILTER (WHERE unit_id IS NULL) AS no_unit_id,
        count(*) FILTER (WHERE role IS NULL OR role NOT IN ('staff', 'deputy', 'head')) AS bad_role,
        count(*) FILTER (WHERE general_points IS NULL OR general_points < 0 OR general_points > 30) AS bad_points
    FROM people
),
people_duplicates AS (
    SELECT count(*) AS duplicate_people FROM (SELECT person_id FROM people GROUP BY person_id HAVING count(*) > 1)
),
task_problems AS (
    SELECT
        count(*) FILTER (WHERE task_id IS NULL) AS no_task_id,
        count(*) FILTER (WHERE kind IS NULL OR kind NOT IN ('planned', 'unexpected')) AS bad_kind,
        count(*) FILTER (WHERE coefficient <= 0) AS bad_coefficient,
        count(*) FILTER (WHERE errors < 0 OR delays < 0) AS bad_counts,
        count(*) FILTER (WHERE due IS NULL) AS no_due
    FROM tasks
    WHERE due IS NULL OR due BETWEEN $period_start AND $period_end
),
task_duplicates AS (
    SELECT count(*) AS duplicate_tasks FROM (SELECT task_id FROM tasks GROUP BY task_id HAVING count(*) > 1)
),
dangling AS (
    SELECT count(*) AS unknown_person
    FROM tasks AS t ANTI JOIN people AS p ON t.person_id = p.person_id
    WHERE t.due BETWEEN $period_start AND $period_end
)
SELECT * FROM people_problems, people_duplicates, task_problems, task_duplicates, dangling
