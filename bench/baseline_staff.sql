-- The central frame's `staff` score and `national` rating (frameworks/central/central.kpi),
-- written by hand in plain DuckDB SQL: the yardstick `bench/run_bench.py` times `kpidsl run` against.
--
-- Parameters: $people and $tasks (Parquet files), $period_start and $period_end (the period's
-- first and last day; a task counts in the period its `due` date falls in).
-- One row per person with role = staff: id, unit, the four sums behind the ratios, the general
-- points, score and rating.
--
-- Rules, as the framework states them:
--   general  30 points: general_points on the raters scale (linear 0 -> 0, 30 -> 100, clamped),
--            so the points are general_points itself, held between 0 and 30;
--   results  70 points, (a + b + c) / 3 x 70, a missing ratio counting 0 (`missing zero`):
--            a = completed / assigned,            assigned = sum of the coefficients of all tasks,
--            b = completed_quality / assigned,    a finished task less 25% per error (at most 100%),
--            c = completed_on_time / assigned,    a finished task less 25% per delay (at most 100%),
--            neither deduction when the task is waived; each ratio on the percent scale
--            (linear 0 -> 0, 1 -> 100, clamped). The staff score has no bonus or penalty.
--   score    general + results, rounded to 2 places, half up.
--   rating   excellent when score >= 90 and on_time_share (= c, 0 without tasks) = 100%,
--            good >= 70, completed >= 50, otherwise not_completed; not_completed when disciplined;
--            at most 20% of the unit's `good` staff may be excellent: the highest scores keep it
--            (ties to the smaller id), the rest are good.
-- Input defaults apply to empty cells: coefficient 1, errors 0, delays 0, waived false,
-- disciplined false.

WITH tasks AS (
    SELECT
        person_id,
        coalesce(coefficient, 1)  AS coefficient,
        finished IS NOT NULL      AS done,
        coalesce(errors, 0)       AS errors,
        coalesce(delays, 0)       AS delays,
        coalesce(waived, false)   AS waived
    FROM read_parquet($tasks)
    WHERE due BETWEEN $period_start AND $period_end
),
per_person AS (
    SELECT
        person_id,
        sum(coefficient) AS assigned,
        sum(coefficient) FILTER (WHERE done) AS completed,
        sum(coefficient * CASE WHEN waived THEN 1 ELSE 1 - least(1, 0.25 * errors) END)
            FILTER (WHERE done) AS completed_quality,
        sum(coefficient * CASE WHEN waived THEN 1 ELSE 1 - least(1, 0.25 * delays) END)
            FILTER (WHERE done) AS completed_on_time
    FROM tasks
    GROUP BY person_id
),
ratios AS (
    SELECT
        p.person_id,
        p.unit_id,
        coalesce(p.disciplined, false) AS disciplined,
        coalesce(t.assigned, 0) AS assigned,
        coalesce(t.completed, 0) AS completed,
        coalesce(t.completed_quality, 0) AS completed_quality,
        coalesce(t.completed_on_time, 0) AS completed_on_time,
        least(greatest(p.general_points, 0), 30) AS general,
        coalesce(least(greatest(coalesce(t.completed, 0) / nullif(t.assigned, 0), 0), 1), 0) AS a,
        coalesce(least(greatest(coalesce(t.completed_quality, 0) / nullif(t.assigned, 0), 0), 1), 0) AS b,
        coalesce(least(greatest(coalesce(t.completed_on_time, 0) / nullif(t.assigned, 0), 0), 1), 0) AS c,
        coalesce(coalesce(t.completed_on_time, 0) / nullif(t.assigned, 0), 0) AS on_time_share
    FROM read_parquet($people) AS p
    LEFT JOIN per_person AS t USING (person_id)
    WHERE p.role = 'staff'
),
scored AS (
    -- The ratios are floating point; going through DECIMAL(38,10) before rounding keeps a
    -- half-way value such as 88.165 from rounding down because of its binary representation.
    SELECT *, round(CAST(general + (a + b + c) / 3 * 70 AS DECIMAL(38, 10)), 2) AS score
    FROM ratios
),
levelled AS (
    SELECT *,
        CASE
            WHEN disciplined THEN 'not_completed'
            WHEN score >= 90 AND on_time_share = 1 THEN 'excellent'
            WHEN score >= 70 THEN 'good'
            WHEN score >= 50 THEN 'completed'
            ELSE 'not_completed'
        END AS level
    FROM scored
),
quota AS (
    SELECT *,
        (count(*) FILTER (WHERE level = 'good') OVER unit) * 20 // 100 AS allowed,
        row_number() OVER (PARTITION BY unit_id, level = 'excellent' ORDER BY score DESC, person_id) AS place
    FROM levelled
    WINDOW unit AS (PARTITION BY unit_id)
)
SELECT
    person_id AS id,
    unit_id AS unit,
    assigned, completed, completed_quality, completed_on_time,
    general,
    score,
    CASE WHEN level = 'excellent' AND place > allowed THEN 'good' ELSE level END AS rating
FROM quota
