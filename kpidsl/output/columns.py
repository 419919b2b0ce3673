"""What each column of the output tables means, in the output's language: the label row of the
workbook, the `columns` sheet and the `columns.csv` sidecar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kpidsl.i18n import Lang


@dataclass(frozen=True)
class ColumnInfo:
    table: str
    name: str
    label: str
    meaning: str


def _fixed(t: Lang, unit_word: str) -> dict[str, tuple[str, str]]:
    """The columns every run has: name -> (label, meaning)."""
    return {
        "id": (t._("Code"), t._("the key of the row in the data; use it to join files")),
        "name": (t._("Name"), t._("the name shown for the person or unit (the input's display field)")),
        "unit": (t._("Unit"), t._("the key of the unit the person belongs to")),
        "unit_name": (t._("Unit name"), t._("the name of the unit the person belongs to")),
        "parent": (t._("Parent unit"), t._("the key of the unit above this one")),
        "parent_name": (t._("Parent unit name"), t._("the name of the unit above this one")),
        "score_name": (t._("Score block"), t._("the score block of the framework that scored the row")),
        "status": (t._("Status"), t._("ok, error (a value was missing), not_scored (no score block applies) "
                                      "or not_evaluated")),
        "score": (t._("Score"), t._("the score, rounded as the framework says")),
        "rating": (t._("Rating"), t._("the final rating level, after overrides, caps and quotas")),
        "rating_label": (t._("Rating (label)"), t._("the label of the final rating level")),
        "reason": (t._("Reason"), t._("why the status is not ok")),
        "entity": (t._("Entity"), t._("people or units")),
        "path": (t._("Item"), t._("the item's dotted path in its score block")),
        "parent_path": (t._("Parent item"), t._("the group the item belongs to")),
        "kind": (t._("Kind"), t._("criterion, group, bonus or penalty")),
        "label": (t._("Label"), t._("the item's label in the framework")),
        "value": (t._("Value"), t._("the value before the scale")),
        "value_text": (t._("Value (text)"), t._("a value that is not a number: an enum value, true or false")),
        "credit": (t._("Credit"), t._("the credit the scale gives, 0 to 100")),
        "weight": (t._("Weight"), t._("the item's share of its parent's points, 0 to 1")),
        "budget": (t._("Points available"), t._("the points the item can add")),
        "contribution": (t._("Points"), t._("the points the item adds, rounded")),
        "missing_policy": (t._("Missing value policy"), t._("the policy applied when the value was missing")),
        "scale": (t._("Scale"), t._("the scale that turned the value into credit")),
        "file": (t._("File"), t._("the framework file where the rule is written")),
        "line": (t._("Line"), t._("the line where the rule is written")),
        "step": (t._("Step"), t._("level, override, cap or quota")),
        "from_level": (t._("From level"), t._("the level before the step")),
        "to_level": (t._("To level"), t._("the level after the step")),
        "of_level": (t._("Counted among"), t._("the level whose holders the quota is a share of")),
        "group_key": (t._("Group"), t._("the group the quota counts in (the unit, for per unit)")),
        "level": (t._("Level"), t._("the rating level the quota limits")),
        "allowed": (t._("Allowed"), t._("how many may hold the level")),
        "holders": (t._("Holders"), t._("how many held it by their scores")),
        "resolution": (t._("Resolution"), t._("how a breach was resolved: by score, by a measure, or reported "
                                             "for a decision")),
        "kept": (t._("Kept the level"), t._("who kept the level")),
        "moved": (t._("Moved down"), t._("who was moved down one level")),
        "period": (t._("Period"), t._("the period of the result")),
        "rows_total": (t._("Rows"), t._("the rows the measure read")),
        "rows_matched": (t._("Rows matched"), t._("the rows its filter kept")),
    }


def _item_labels(evidence: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for score in evidence.get("scores", []):
        for item in score["items"]:
            labels.setdefault(item["path"], item.get("label") or item["path"])
    return labels


def column_infos(table: str, names: list[str], evidence: dict[str, Any], t: Lang) -> list[ColumnInfo]:
    """Label and meaning of each column of one output table."""
    fixed = _fixed(t, "")
    items = _item_labels(evidence)
    words = {"value": (t._("value"), t._("the value of {item} before its scale")),
             "points": (t._("points"), t._("the points {item} adds, rounded")),
             "weight": (t._("weight"), t._("the share of {item} in its parent's points, 0 to 1")),
             "credit": (t._("credit"), t._("the credit the scale gives {item}, 0 to 100"))}
    out = []
    for name in names:
        if table == "measures" and name == "name":
            label, meaning = t._("Measure"), t._("the measure's name in the framework")
        elif name in fixed:
            label, meaning = fixed[name]
        elif "." in name and name.rsplit(".", 1)[1] in words:
            path, measure = name.rsplit(".", 1)
            item = items.get(path, path)
            word, meaning = words[measure]
            label, meaning = f"{item} ({word})", meaning.format(item=item)
        else:
            label, meaning = name, ""
        out.append(ColumnInfo(table, name, label, meaning))
    return out
