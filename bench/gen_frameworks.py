"""Writes a deterministic framework set of N criteria: a central frame, shared scales, and unit frames that extend it.

    python bench/gen_frameworks.py [--criteria 5000] [--files 40] [--out bench/data/frameworks]

The shape follows frameworks/: the central frame holds the data, the
individual and unit scores and the rules for unit frames; each unit frame
`use`s and `extends` it, adds its own input, measures and scales, and
replaces the unit score's functional group with groups of scored criteria.
`small.kpi`, apart, is a one-screen framework for timing the fixed cost of a
check. The same arguments always write the same bytes.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

CENTRAL = '''\
framework bench.central "Khung KPI chung" version "2025.07" effective 2025-07-01
  period quarter
  rounding 2 half_up

locked input units "Đơn vị" key unit_id {
  unit_id: text
  parent_id: ref units?
}

locked input people "Cán bộ" key person_id {
  person_id: text
  unit_id: ref units
  role: staff | deputy | head
  general_points: number between 0 and 30
  disciplined: bool = false
}

locked input tasks "Nhiệm vụ" key task_id period by due {
  task_id: text
  person_id: ref people
  kind: planned | unexpected
  coefficient: number > 0 = 1
  due: date
  finished: date?
  errors: integer >= 0 = 0
  delays: integer >= 0 = 0
  waived: bool = false
}

units from units parent parent_id
people from people member of unit_id leader when role in [deputy, head]

scale percent "Tỷ lệ" = linear 0 -> 0, 1 -> 100 clamp
scale raters "Điểm người đánh giá" = linear 0 -> 0, 30 -> 100 clamp

scale coverage "Mức bao phủ" = bands {
  >= 95% -> 100
  >= 80% -> 75
  >= 60% -> 50
  else -> 0
}

locked measure assigned for people = sum(tasks.coefficient)
locked measure completion for people =
    sum(tasks.coefficient where finished is not missing) / assigned
locked measure quality for people =
    sum(tasks.coefficient where finished is not missing less 25% per errors at most 100%
    unless waived) / assigned
locked measure timeliness for people =
    sum(tasks.coefficient where finished is not missing less 25% per delays at most 100%
    unless waived) / assigned
locked measure staff_completed for units = share(members.staff where rating >= completed)

locked score staff "Công chức" for people where role = staff {
  criterion general "Tiêu chí chung" points 30 = general_points scored raters
  group results "Kết quả" points 70 missing zero {
    criterion a_quantity "Khối lượng" weight 1/3 = completion scored percent
    criterion b_quality "Chất lượng" weight 1/3 = quality scored percent
    criterion c_timeliness "Tiến độ" weight 1/3 = timeliness scored percent
  }
  rating national
}

score unit_kpi "KPI đơn vị" for units missing zero {
  group basic "KPI cơ bản" points 40 {
    locked criterion staff_results "Công chức hoàn thành nhiệm vụ" weight 50% = staff_completed
        scored coverage
    locked criterion discipline "Kỷ luật" weight 50% = share(members where not disciplined)
        scored percent
  }
  group functional "KPI chức năng" points 60 {
    criterion placeholder "Kế hoạch công tác" weight 100% = staff_completed scored percent
  }
  rating national
}

locked rating national "Xếp loại" {
  excellent "Xuất sắc" when score >= 90
  good "Tốt" when score >= 70
  completed "Hoàn thành" when score >= 50
  not_completed "Không hoàn thành" otherwise
}

require weight of unit_kpi.functional between 50% and 70%
require every criterion has scale

test "công chức" {
  period 2025-Q3
  given units [unit_id, parent_id] {
    [u1, none]
  }
  given people [person_id, unit_id, role, general_points] {
    [p1, u1, staff, 30]
  }
  given tasks [task_id, person_id, kind, due, finished] {
    [t1, p1, planned, 2025-08-01, 2025-07-30]
  }
  expect person p1 score = 100
}
'''

SMALL = '''\
framework small "Nhỏ" version "2025.07" effective 2025-07-01
  period quarter

input units "Đơn vị" key unit_id {
  unit_id: text
}

input people "Cán bộ" key person_id {
  person_id: text
  unit_id: ref units
  general_points: number between 0 and 30
}

units from units
people from people member of unit_id

scale raters = linear 0 -> 0, 30 -> 100 clamp

score staff "Cá nhân" for people {
  criterion general "Tiêu chí chung" points 100 = general_points scored raters
}

test "đủ điểm" {
  period 2025-Q3
  given units [unit_id] {
    [u1]
  }
  given people [person_id, unit_id, general_points] {
    [p1, u1, 30]
  }
  expect person p1 score = 100
}
'''

CENTRAL_CRITERIA = 7  # staff: 4, unit_kpi: 3 (the placeholder is replaced by every unit)
COLUMNS = 10


def unit_frame(index: int, n_criteria: int) -> str:
    """One unit frame with n_criteria criteria, in groups of at most ten."""
    u = f"u{index:03d}"
    data = f"{u}_data"
    lines = [
        f'framework bench.{u} "Đơn vị {index}" version "2025.07" effective 2025-07-01',
        "  period quarter",
        "",
        'use "../central.kpi"',
        "extends bench.central",
        "",
        f'input {data} "Số liệu đơn vị {index}" key row_id period by reported {{',
        "  row_id: text",
        "  unit_id: ref units",
        "  reported: date",
    ]
    lines += [f"  v{j}: number >= 0 = 0" for j in range(COLUMNS)]
    lines += [f"  t{j}: number > 0 = 1" for j in range(COLUMNS)]
    lines += ["}", ""]
    # Every fifth criterion (k % 5 == 1) reads a measure: declare only those that are read.
    n_measures = min(COLUMNS, (n_criteria + 3) // 5)
    lines += [f"measure {u}_m{j} for units = sum({data}.v{j}) / sum({data}.t{j})" for j in range(n_measures)]
    lines += [
        "",
        f"scale {u}_steps = bands {{",
        "  >= 1 -> 100",
        "  >= 0.75 -> 80",
        "  >= 0.5 -> 50",
        "  else -> 0",
        "}",
        "",
        f"scale {u}_fewer = bands {{",
        "  <= 0 -> 100",
        "  <= 3 -> 60",
        "  else -> 0",
        "}",
        "",
        f"scale {u}_curve = linear 0 -> 0, 50 -> 60, 100 -> 100 clamp",
        "",
    ]
    n_groups = max(1, -(-n_criteria // 10))
    sizes = [n_criteria // n_groups + (1 if g < n_criteria % n_groups else 0) for g in range(n_groups)]
    lines.append("extend unit_kpi.functional replace {")
    k = 0
    for g, size in enumerate(sizes):
        lines.append(f'  group g{g:02d} "Nhóm {g + 1}" weight 1/{n_groups} {{')
        for _ in range(size):
            j = k % COLUMNS
            name = f"c{k:04d}"
            label = f'"Tiêu chí {k + 1}"'
            kind = k % 5
            if kind == 0:
                expr = f"sum({data}.v{j}) / sum({data}.t{j})"
                scored = "scored percent"
            elif kind == 1:
                expr = f"{u}_m{(k // 5) % n_measures}"
                scored = f"scored {u}_steps"
            elif kind == 2:
                expr = f"share({data} where v{j} >= t{j})"
                scored = "scored coverage"
            elif kind == 3:
                expr = f"count({data} where v{j} = 0)"
                scored = f"scored {u}_fewer"
            else:
                expr = f"mean({data}.v{j})"
                scored = f"scored {u}_curve"
            lines.append(f"    criterion {name} {label} weight 1/{size} = {expr} {scored}")
            k += 1
        lines.append("  }")
    lines += [
        "}",
        "",
        f'test "đơn vị {index}" {{',
        "  period 2025-Q3",
        "  given units [unit_id, parent_id] {",
        f"    [{u}, none]",
        "  }",
        f"  given {data} [row_id, unit_id, reported] {{",
        f"    [r1, {u}, 2025-09-30]",
        "  }",
        f"  expect unit {u} score = 40",
        "}",
        "",
    ]
    return "\n".join(lines)


def generate(out: Path, criteria: int = 5000, files: int = 40) -> list[Path]:
    """Write the set below `out` (emptied first); the paths of the framework files of the set."""
    if criteria < CENTRAL_CRITERIA + files:
        raise ValueError(f"need at least {CENTRAL_CRITERIA + files} criteria for {files} unit files")
    if out.exists():
        shutil.rmtree(out)
    (out / "units").mkdir(parents=True)
    (out / ".kpidsl-root").write_text("", encoding="utf-8")  # the set's framework root: units use ../central.kpi
    (out.parent / "small.kpi").write_text(SMALL, encoding="utf-8")
    written = [out / "central.kpi"]
    written[0].write_text(CENTRAL, encoding="utf-8")
    rest = criteria - CENTRAL_CRITERIA
    for i in range(files):
        path = out / "units" / f"unit_{i:03d}.kpi"
        path.write_text(unit_frame(i, rest // files + (1 if i < rest % files else 0)), encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--criteria", type=int, default=5000, help="criteria in the whole set")
    parser.add_argument("--files", type=int, default=40, help="unit frames")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "frameworks")
    args = parser.parse_args()
    written = generate(args.out, args.criteria, args.files)
    size = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} files, {args.criteria} criteria, {size:,} bytes below {args.out}")


if __name__ == "__main__":
    main()
