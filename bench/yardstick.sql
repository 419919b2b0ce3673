-- The yardstick: the whole central frame (frameworks/central/central.kpi) for one period, written by hand
-- in plain DuckDB SQL, validating what `kpidsl run` validates within the scans the scoring needs.
-- `bench/yardstick.py` runs it (statement by statement, in order) and `bench/run_bench.py` times it
-- against `kpidsl run`.
--
-- Parameters: $tasks, $people, $units, $unit_reports (Parquet files), $period_start, $period_end (the
-- period's first and last day). The files have the schema bench/gen_data.py writes; yardstick.py checks
-- it from the files' metadata before anything runs, which proves every value's type (a DATE column holds
-- dates, a DECIMAL(18,2) column numbers of at most 2 decimals, ...), so no value needs a type check.
--
-- Statements are separated by a line ending in `;`. Each starts with `-- step: NAME`; yardstick.py reports
-- the time of each. The `checks` statement leaves one row per kind of problem found; when it is not empty
-- the data is refused, as a run refuses it, and yardstick.py lists the problems (`-- detail:` statements,
-- run only then) instead of writing results. The `people_results` and `unit_results` statements are the
-- outputs, written to Parquet.
--
-- What is validated (kpidsl/data/validate.py, convert.py; docs/data.md), among the rows in the period
-- (tasks due in it or with no due date; unit reports likewise; every person and unit):
--   keys        present (not empty or blank) and unique: 64-bit hashes sorted, neighbours compared; only
--               when two hashes are equal are the keys compared exactly (a detail statement);
--   references  tasks.person_id -> people, people.unit_id -> units, unit_reports.unit_id -> units from the
--               full joins the scoring does anyway; units.parent_id -> units by a join of the units;
--   required    values present: every key, tasks.person_id, kind, due; people.unit_id, role,
--               general_points; units.name; unit_reports.unit_id, reported, plan_items, plan_done,
--               reform_index (a text cell of blanks is empty, as in a CSV);
--   enums       kind, role, organising, cohesion among their values (surrounding blanks ignored);
--   bounds      coefficient > 0, errors >= 0, delays >= 0, general_points between 0 and 30,
--               plan_items, plan_done, budget_plan, budget_spent >= 0, reform_index between 0 and 100;
--   tables      at least one person and one unit; at least one task and one unit report in the period.
-- Tasks are read once for scoring (per-person sums and per-person problem counts in one aggregation)
-- and once for their keys (task_id and due only: the one column scoring does not read).
--
-- The frame, as it states it (every amount below is an exact integer):
--   money and coefficients are kept in hundredths (cents), a deduction in quarters: a task finished
--   counts coefficient x (1 - min(100%, 25% x errors)) for quality, unless waived; in quarter-cents
--   that is c x 4 - c x min(4, errors), so the sums per person are whole numbers:
--     A = assigned (cents), comp = completed (cents), ql, tl = quality and timeliness losses (c x quarters);
--     a = comp/A, b = (4 comp - ql)/(4A), c = (4 comp - tl)/(4A), each missing when A = 0, each on the
--     `percent` scale (clamped to 0..1, credit x 100); the results group's `missing zero` makes a missing
--     ratio earn 0.
--   staff  general (30 points, `raters` clamp 0..30: the points are general_points) + results 70 x
--          (a + b + c)/3. With D = 4A and S the sum of the three clamped ratios' numerators, all in
--          quarter-cents (a + b + c = S / D), the results in cents are 7000 x S / (3 D).
--   leader general + 70 x (a + b + c + d + dd + e)/6, d = 100% when no staff member of the unit is rated
--          not_completed, else 50%; dd, e from `leader_levels` (full 100, partial 50), `missing fail`:
--          without a value the person's result is an error (status error, no score, not rated).
--          With h = d + dd + e in halves (3 to 6): 7000 x (2 S + h D) / (12 D) cents; without a task
--          (D = 0) the ratios earn 0 and this is 7000 x h / 12.
--   unit   basic 40 points: staff_results 40% (share of the unit's staff rated completed or better,
--          `percent`, renormalise when the unit has no staff), discipline 20% (share of members not
--          disciplined, `percent`, zero without members), budget 20% (spent / plan over the unit's
--          reports, `budget_bands` >= 95% 100, >= 80% 75, >= 60% 50, else 0; renormalise when the plan is
--          0), reform 20% (mean reform_index, `index` clamp 0..100; zero without a report); renormalise
--          shares a dropped criterion's weight among the others in proportion (the basic result is
--          40 x sum(weight x credit) / (100 x the weights present));
--          functional 60 points: work_plan = sum(plan_done) / sum(plan_items) on `percent` (zero when
--          nothing is planned).
--   every score is kept between 0 and its total (no credit exceeds 100, so it always is) and published
--   rounded to 2 places, half up: cents = floor((2 p + q) / (2 q)) for the exact p / q.
--   ratings (on the published score): excellent >= 90 (people: and on_time_share = 100%, that is every
--   assigned coefficient on time, 4 comp - tl = 4A with A > 0), good >= 70, completed >= 50, otherwise
--   not_completed; people: `override not_completed when disciplined`; staff: quota `excellent at most
--   20% of good per unit resolve by score` (allowed = floor(good / 5) with `good` counted after the
--   override; when more are excellent, the highest scores keep it, ties to the smaller person_id, the
--   rest are good); leaders: `cap unit.rating` (never above their unit's rating).
-- Nothing is divided inexactly: every comparison and rounding is done on integers. Per task the values
-- are BIGINT, which the column types prove: a DECIMAL(18,2) in cents is below 10^18, times 4 below 2^63.
-- The sums are HUGEINT (DuckDB's sum of BIGINT),
-- and so is the arithmetic on them, per person and per unit (a few operations per row, not per task);
-- an overflow would stop the run with an error, never give a wrong number.

-- step: macros
CREATE OR REPLACE TEMP MACRO blank(s) AS (s IS NULL OR (s < '!' AND trim(s, ' ' || chr(9) || chr(13) || chr(10)) = ''));

CREATE OR REPLACE TEMP MACRO trimmed(s) AS (trim(s, ' ' || chr(9) || chr(13) || chr(10)));

-- The exact value p / q (p >= 0, q > 0) rounded half up to a whole number.
CREATE OR REPLACE TEMP MACRO half_up(p, q) AS ((2 * p + q) // (2 * q));

-- Rating levels, best first, and back.
CREATE OR REPLACE TEMP MACRO level_rank(l) AS (
    CASE l WHEN 'excellent' THEN 1 WHEN 'good' THEN 2 WHEN 'completed' THEN 3 WHEN 'not_completed' THEN 4 END);

CREATE OR REPLACE TEMP MACRO rank_level(r) AS (['excellent', 'good', 'completed', 'not_completed'][r]);

-- Cents as a published score (2 places).
CREATE OR REPLACE TEMP MACRO published(cents) AS (CAST(cents AS DECIMAL(18, 0)) * 0.01);

-- step: task_sums
-- The one aggregation over the tasks: per person, the four sums the scores read and the number of
-- rows with a problem the row itself shows (the key and person_id are checked elsewhere). Sums of
-- CASE rather than FILTER clauses: the same values, about a third less work for DuckDB.
CREATE TEMP TABLE task_sums AS
SELECT
    person_id,
    count(*) AS tasks,
    sum(c) AS assigned,
    sum(CASE WHEN finished IS NOT NULL THEN c ELSE 0 END) AS completed,
    sum(CASE WHEN finished IS NOT NULL AND errors > 0 AND NOT coalesce(waived, false)
             THEN c * least(errors, 4) ELSE 0 END) AS quality_loss,
    sum(CASE WHEN finished IS NOT NULL AND delays > 0 AND NOT coalesce(waived, false)
             THEN c * least(delays, 4) ELSE 0 END) AS time_loss,
    sum(CASE WHEN due IS NULL
               OR kind IS NULL
               OR (kind NOT IN ('planned', 'unexpected') AND trimmed(kind) NOT IN ('planned', 'unexpected'))
               OR coefficient <= 0 OR errors < 0 OR delays < 0
             THEN 1 ELSE 0 END) AS problems
FROM (
    SELECT person_id, kind, coefficient, due, finished, errors, delays, waived,
           coalesce(CAST(coefficient * 100 AS BIGINT), 100) AS c
    FROM read_parquet($tasks)
    WHERE due IS NULL OR due BETWEEN $period_start AND $period_end
)
GROUP BY person_id;

-- step: task_keys
-- Task ids of the period: empty ones, and how many sorted 64-bit hashes equal their neighbour.
CREATE TEMP TABLE task_keys AS
SELECT
    count(*) FILTER (WHERE h IS NULL) AS empty,
    count(*) FILTER (WHERE h = before) AS repeats
FROM (
    SELECT h, lag(h) OVER (ORDER BY h) AS before
    FROM (
        SELECT CASE WHEN NOT blank(task_id) THEN hash(task_id) END AS h
        FROM read_parquet($tasks)
        WHERE due IS NULL OR due BETWEEN $period_start AND $period_end
    )
);

-- step: people
-- People with their task sums (a full join: task rows whose person_id names nobody come out with no
-- person), each person's score computed for the score that takes them, levels before quota and cap.
CREATE TEMP TABLE persons AS
WITH p AS (
    SELECT
        person_id, unit_id,
        CASE WHEN role IN ('staff', 'deputy', 'head') THEN role ELSE trimmed(role) END AS role,
        CAST(general_points * 100 AS BIGINT) AS g,
        coalesce(disciplined, false) AS disciplined,
        CASE WHEN blank(organising) THEN NULL WHEN organising = 'full' OR trimmed(organising) = 'full' THEN 2
             WHEN organising = 'partial' OR trimmed(organising) = 'partial' THEN 1 ELSE -1 END AS organising,
        CASE WHEN blank(cohesion) THEN NULL WHEN cohesion = 'full' OR trimmed(cohesion) = 'full' THEN 2
             WHEN cohesion = 'partial' OR trimmed(cohesion) = 'partial' THEN 1 ELSE -1 END AS cohesion,
        (blank(person_id)::INTEGER + blank(unit_id)::INTEGER + blank(role)::INTEGER
         + (general_points IS NULL)::INTEGER) AS empty_values,
        ((NOT blank(role) AND role NOT IN ('staff', 'deputy', 'head')
          AND trimmed(role) NOT IN ('staff', 'deputy', 'head'))::INTEGER
         + (organising IS NOT NULL AND organising NOT IN ('full', 'partial') AND NOT blank(organising)
            AND trimmed(organising) NOT IN ('full', 'partial'))::INTEGER
         + (cohesion IS NOT NULL AND cohesion NOT IN ('full', 'partial') AND NOT blank(cohesion)
            AND trimmed(cohesion) NOT IN ('full', 'partial'))::INTEGER) AS unknown_values,
        (general_points < 0 OR general_points > 30)::INTEGER AS out_of_range,
        true AS known
    FROM read_parquet($people)
),
joined AS (
    SELECT
        coalesce(p.person_id, t.person_id) AS person_id,
        p.known IS NOT NULL AS known, p.unit_id, p.role, p.g, p.disciplined, p.organising, p.cohesion,
        p.empty_values, p.unknown_values, p.out_of_range,
        t.tasks, t.problems AS task_problems,
        -- D = 4 A, and S = the three ratios' numerators, each clamped to 0..D (the `percent` clamp).
        4 * coalesce(t.assigned, 0) AS d,
        4 * coalesce(t.completed, 0) AS done4,
        coalesce(t.quality_loss, 0) AS ql,
        coalesce(t.time_loss, 0) AS tl
    FROM p FULL JOIN task_sums AS t ON p.person_id = t.person_id
),
ratios AS (
    SELECT *,
        least(greatest(done4, 0), d) + least(greatest(done4 - ql, 0), d) + least(greatest(done4 - tl, 0), d) AS s,
        d > 0 AND done4 - tl = d AS on_time,
        least(greatest(g, 0), 3000) AS general_cents
    FROM joined
)
SELECT *,
    CASE WHEN role = 'staff' THEN general_cents + half_up(7000 * s, 3 * greatest(d, 1)) END AS staff_cents
FROM ratios;

-- step: units
-- Per unit: its members' counts (the staff by their level: the quota only moves excellent to good, so
-- these counts are the final ratings'), its reports' sums, the unit score and rating. Full joins:
-- people and reports whose unit_id names no unit come out with no unit.
CREATE TEMP TABLE unit_scores AS
WITH staff_levels AS (
    SELECT person_id, unit_id, disciplined, role,
        CASE WHEN role <> 'staff' THEN NULL
             WHEN disciplined THEN 'not_completed'
             WHEN staff_cents >= 9000 AND on_time THEN 'excellent'
             WHEN staff_cents >= 7000 THEN 'good'
             WHEN staff_cents >= 5000 THEN 'completed'
             ELSE 'not_completed' END AS level
    FROM persons WHERE known
),
members AS (
    SELECT unit_id,
        count(*) AS members,
        count(*) FILTER (WHERE NOT disciplined) AS not_disciplined,
        count(level) AS staff,
        count(*) FILTER (WHERE level IN ('excellent', 'good', 'completed')) AS staff_completed,
        count(*) FILTER (WHERE level = 'not_completed') AS staff_not_completed,
        count(*) FILTER (WHERE level = 'good') AS staff_good,
        count(*) FILTER (WHERE level = 'excellent') AS staff_excellent
    FROM staff_levels
    GROUP BY unit_id
),
reports AS (
    SELECT unit_id,
        count(*) AS reports,
        sum(plan_items) AS plan_items,
        sum(plan_done) AS plan_done,
        sum(coalesce(CAST(budget_plan * 100 AS BIGINT), 0)) AS budget_plan,
        sum(coalesce(CAST(budget_spent * 100 AS BIGINT), 0)) AS budget_spent,
        sum(CAST(reform_index * 100 AS BIGINT)) AS reform,
        count(*) FILTER (WHERE blank(report_id) OR reported IS NULL OR plan_items IS NULL OR plan_done IS NULL
                         OR reform_index IS NULL) AS empty_values,
        count(*) FILTER (WHERE plan_items < 0 OR plan_done < 0 OR budget_plan < 0 OR budget_spent < 0
                         OR reform_index < 0 OR reform_index > 100) AS out_of_range
    FROM read_parquet($unit_reports)
    WHERE reported IS NULL OR reported BETWEEN $period_start AND $period_end
    GROUP BY unit_id
),
u AS (
    SELECT unit_id, parent_id, blank(unit_id)::INTEGER + blank(name)::INTEGER AS empty_values, true AS known
    FROM read_parquet($units)
),
joined AS (
    SELECT
        coalesce(u.unit_id, m.unit_id, r.unit_id) AS unit_id,
        u.known IS NOT NULL AS known, u.parent_id, u.empty_values AS unit_empty_values,
        coalesce(m.members, 0) AS members, m.not_disciplined,
        coalesce(m.staff, 0) AS staff, m.staff_completed, coalesce(m.staff_not_completed, 0) AS staff_not_completed,
        coalesce(m.staff_good, 0) AS staff_good, coalesce(m.staff_excellent, 0) AS staff_excellent,
        coalesce(r.reports, 0) AS reports,
        r.plan_items, r.plan_done, r.budget_plan, r.budget_spent, r.reform,
        r.empty_values AS report_empty_values, r.out_of_range AS report_out_of_range
    FROM u
    FULL JOIN members AS m ON m.unit_id = u.unit_id
    FULL JOIN reports AS r ON r.unit_id = coalesce(u.unit_id, m.unit_id)
),
credits AS (
    SELECT *,
        -- Each basic criterion as numerator / denominator of its credit (0..100); weights 40, 20, 20, 20.
        staff > 0 AS staff_present,
        coalesce(budget_plan, 0) > 0 AS budget_present,
        CASE WHEN budget_plan > 0 THEN
            CASE WHEN 100 * budget_spent >= 95 * budget_plan THEN 100
                 WHEN 100 * budget_spent >= 80 * budget_plan THEN 75
                 WHEN 100 * budget_spent >= 60 * budget_plan THEN 50 ELSE 0 END
        ELSE 0 END AS budget_credit,
        greatest(members, 1) AS n_members,
        greatest(staff, 1) AS n_staff,
        greatest(reports, 1) AS n_reports,
        CASE WHEN members > 0 THEN not_disciplined ELSE 0 END AS discipline_num,
        CASE WHEN staff > 0 THEN staff_completed ELSE 0 END AS staff_num,
        -- reform = mean(reform_index) clamped to 0..100: reform / (100 x reports), in credit units
        least(greatest(coalesce(reform, 0), 0), 10000 * greatest(reports, 1)) AS reform_num,
        CASE WHEN coalesce(plan_items, 0) > 0 THEN least(greatest(plan_done, 0), plan_items) ELSE 0 END AS plan_num,
        CASE WHEN coalesce(plan_items, 0) > 0 THEN plan_items ELSE 1 END AS plan_den
    FROM joined
),
exact AS (
    SELECT *,
        20 + 20 + CASE WHEN staff_present THEN 40 ELSE 0 END + CASE WHEN budget_present THEN 20 ELSE 0 END
            AS weights,
        -- basic in cents = 40 x (40 x 100 staff_num/n_staff + 20 x 100 discipline_num/n_members
        --                        + 20 x budget_credit + 20 x reform_num/(100 n_reports)) / weights,
        -- over the common denominator n_staff x n_members x 5 n_reports:
        CAST(40 AS HUGEINT) * (
              CAST(4000 AS HUGEINT) * staff_num * n_members * 5 * n_reports
            + CAST(2000 AS HUGEINT) * discipline_num * n_staff * 5 * n_reports
            + CAST(20 AS HUGEINT) * budget_credit * n_staff * n_members * 5 * n_reports
            + CAST(reform_num AS HUGEINT) * n_staff * n_members) AS basic_num,
        CAST(n_staff AS HUGEINT) * n_members * 5 * n_reports AS basic_den
    FROM credits
),
scored AS (
    SELECT *,
        -- cents = basic_num / (basic_den x weights) + 6000 x plan_num / plan_den
        half_up(basic_num * plan_den + CAST(6000 AS HUGEINT) * plan_num * basic_den * weights,
                basic_den * weights * plan_den) AS cents
    FROM exact
)
SELECT *,
    CASE WHEN cents >= 9000 THEN 'excellent' WHEN cents >= 7000 THEN 'good'
         WHEN cents >= 5000 THEN 'completed' ELSE 'not_completed' END AS rating
FROM scored;

-- step: checks
-- One row per input and kind of problem found (none for valid data), from the sums and flags kept above,
-- the key hashes (sorted, neighbours compared) and a join of the units for their parents. Two kinds are
-- not final: `row problems` of tasks (counted in the aggregation, sorted into kinds by the detail
-- `task_rows`) and `hash repeated` (a key hash equal to its neighbour: the detail `duplicates` compares
-- those keys exactly; a true hash collision between two different keys is no problem).
CREATE TEMP TABLE checks AS
WITH unit_keys AS (
    SELECT count(*) FILTER (WHERE h = before) AS repeats
    FROM (SELECT h, lag(h) OVER (ORDER BY h) AS before
          FROM (SELECT hash(unit_id) AS h FROM read_parquet($units) WHERE unit_id IS NOT NULL))
),
person_keys AS (
    SELECT count(*) FILTER (WHERE h = before) AS repeats
    FROM (SELECT h, lag(h) OVER (ORDER BY h) AS before
          FROM (SELECT hash(person_id) AS h FROM persons WHERE known AND person_id IS NOT NULL))
),
report_keys AS (
    SELECT count(*) FILTER (WHERE h = before) AS repeats
    FROM (SELECT h, lag(h) OVER (ORDER BY h) AS before
          FROM (SELECT hash(report_id) AS h FROM read_parquet($unit_reports)
                WHERE report_id IS NOT NULL
                  AND (reported IS NULL OR reported BETWEEN $period_start AND $period_end)))
),
parents AS (
    SELECT count(*) AS dangling
    FROM read_parquet($units) AS c ANTI JOIN read_parquet($units) AS p ON p.unit_id = c.parent_id
    WHERE NOT blank(c.parent_id)
),
found (input, kind, n) AS (
    SELECT 'tasks', 'row problems', sum(task_problems) FROM persons
    UNION ALL SELECT 'tasks', 'empty_value', sum(tasks) FILTER (WHERE NOT known AND blank(person_id)) FROM persons
    UNION ALL SELECT 'tasks', 'dangling_reference', sum(tasks) FILTER (WHERE NOT known AND NOT blank(person_id))
        FROM persons
    UNION ALL SELECT 'tasks', 'empty_period', (coalesce(sum(tasks), 0) = 0)::INTEGER FROM persons
    UNION ALL SELECT 'tasks', 'empty_value', empty FROM task_keys
    UNION ALL SELECT 'tasks', 'hash repeated', repeats FROM task_keys
    UNION ALL SELECT 'people', 'empty_value', sum(empty_values) FROM persons WHERE known
    UNION ALL SELECT 'people', 'unknown_value', sum(unknown_values) FROM persons WHERE known
    UNION ALL SELECT 'people', 'out_of_range', sum(out_of_range) FROM persons WHERE known
    UNION ALL SELECT 'people', 'hash repeated', repeats FROM person_keys
    UNION ALL SELECT 'people', 'empty_table', (count(*) = 0)::INTEGER FROM persons WHERE known
    UNION ALL SELECT 'people', 'dangling_reference', sum(members) FILTER (WHERE NOT known AND NOT blank(unit_id))
        FROM unit_scores
    UNION ALL SELECT 'units', 'empty_value', sum(unit_empty_values) FROM unit_scores WHERE known
    UNION ALL SELECT 'units', 'hash repeated', repeats FROM unit_keys
    UNION ALL SELECT 'units', 'dangling_reference', dangling FROM parents
    UNION ALL SELECT 'units', 'empty_table', (count(*) = 0)::INTEGER FROM unit_scores WHERE known
    UNION ALL SELECT 'unit_reports', 'empty_value', sum(report_empty_values) FROM unit_scores
    UNION ALL SELECT 'unit_reports', 'empty_value', sum(reports) FILTER (WHERE NOT known AND blank(unit_id))
        FROM unit_scores
    UNION ALL SELECT 'unit_reports', 'out_of_range', sum(report_out_of_range) FROM unit_scores
    UNION ALL SELECT 'unit_reports', 'dangling_reference', sum(reports) FILTER (WHERE NOT known AND NOT blank(unit_id))
        FROM unit_scores
    UNION ALL SELECT 'unit_reports', 'hash repeated', repeats FROM report_keys
    UNION ALL SELECT 'unit_reports', 'empty_period', (coalesce(sum(reports), 0) = 0)::INTEGER FROM unit_scores
)
SELECT input, kind, sum(n) AS n FROM found WHERE n > 0 GROUP BY ALL;

-- step: people_results
-- Staff: the quota per unit (ranked among the excellent only: the rest keep their level); leaders:
-- d from the unit's staff, the override, then the cap at the unit's rating.
CREATE TEMP TABLE people_results AS
WITH excellent AS (
    SELECT person_id, row_number() OVER (PARTITION BY unit_id ORDER BY staff_cents DESC, person_id) AS place
    FROM persons
    WHERE known AND role = 'staff' AND NOT disciplined AND staff_cents >= 9000 AND on_time
),
leaders AS (
    SELECT p.person_id, p.unit_id, p.disciplined, p.organising, p.cohesion, p.s, p.d, p.on_time, p.general_cents,
        u.rating AS unit_rating,
        organising IS NOT NULL AND cohesion IS NOT NULL AS ok,
        (CASE WHEN u.staff_not_completed = 0 THEN 2 ELSE 1 END + organising + cohesion) AS h,
        greatest(p.d, 1) AS dd
    FROM persons AS p JOIN unit_scores AS u ON u.unit_id = p.unit_id AND u.known
    WHERE p.known AND p.role IN ('deputy', 'head')
),
leader_scores AS (
    SELECT *,
        CASE WHEN ok THEN general_cents + half_up(CAST(7000 AS HUGEINT) * (2 * s + h * dd), 12 * dd) END AS cents
    FROM leaders
)
SELECT p.person_id AS id, p.unit_id AS unit, 'staff' AS score_name, 'ok' AS status, published(staff_cents) AS score,
    CASE WHEN p.disciplined THEN 'not_completed'
         WHEN staff_cents >= 9000 AND on_time THEN
             CASE WHEN u.staff_excellent > u.staff_good // 5 AND e.place > u.staff_good // 5 THEN 'good'
                  ELSE 'excellent' END
         WHEN staff_cents >= 7000 THEN 'good'
         WHEN staff_cents >= 5000 THEN 'completed'
         ELSE 'not_completed' END AS rating
FROM persons AS p
JOIN unit_scores AS u ON u.unit_id = p.unit_id AND u.known
LEFT JOIN excellent AS e USING (person_id)
WHERE p.known AND p.role = 'staff'
UNION ALL
SELECT person_id, unit_id, 'leader', CASE WHEN ok THEN 'ok' ELSE 'error' END, published(cents),
    CASE WHEN ok THEN rank_level(greatest(level_rank(unit_rating), CASE
        WHEN disciplined THEN 4
        WHEN cents >= 9000 AND on_time THEN 1
        WHEN cents >= 7000 THEN 2
        WHEN cents >= 5000 THEN 3
        ELSE 4 END)) END
FROM leader_scores;

-- step: unit_results
CREATE TEMP TABLE unit_results AS
SELECT unit_id AS id, parent_id AS parent, 'unit_kpi' AS score_name, 'ok' AS status, published(cents) AS score,
    rating
FROM unit_scores
WHERE known;

-- detail: task_rows
-- Only when the aggregation counted row problems: each kind counted on its own.
SELECT kind, count(*) AS n FROM (
    SELECT unnest([
        CASE WHEN due IS NULL THEN 'no_period' END,
        CASE WHEN blank(kind) THEN 'empty_value'
             WHEN kind NOT IN ('planned', 'unexpected') AND trimmed(kind) NOT IN ('planned', 'unexpected')
             THEN 'unknown_value' END,
        CASE WHEN coefficient <= 0 THEN 'out_of_range' END,
        CASE WHEN errors < 0 THEN 'out_of_range' END,
        CASE WHEN delays < 0 THEN 'out_of_range' END]) AS kind
    FROM read_parquet($tasks)
    WHERE due IS NULL OR due BETWEEN $period_start AND $period_end
)
WHERE kind IS NOT NULL
GROUP BY kind;

-- detail: duplicates
-- Only when some key hash repeated: the keys whose hash repeats, compared exactly.
WITH keys (input, k) AS (
    SELECT 'tasks', task_id FROM read_parquet($tasks)
    WHERE task_id IS NOT NULL AND (due IS NULL OR due BETWEEN $period_start AND $period_end)
      AND $check_tasks
    UNION ALL SELECT 'people', person_id FROM read_parquet($people) WHERE person_id IS NOT NULL AND $check_people
    UNION ALL SELECT 'units', unit_id FROM read_parquet($units) WHERE unit_id IS NOT NULL AND $check_units
    UNION ALL SELECT 'unit_reports', report_id FROM read_parquet($unit_reports)
    WHERE report_id IS NOT NULL AND (reported IS NULL OR reported BETWEEN $period_start AND $period_end)
      AND $check_unit_reports
),
repeated AS (SELECT input, hash(k) AS h FROM keys GROUP BY ALL HAVING count(*) > 1)
SELECT input, 'duplicate_key' AS kind, sum(n) AS n
FROM (SELECT input, k, count(*) AS n FROM keys SEMI JOIN repeated ON keys.input = repeated.input
      AND hash(keys.k) = repeated.h GROUP BY ALL HAVING count(*) > 1)
GROUP BY ALL;
