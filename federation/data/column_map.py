"""YAML column maps: which data category each column of a brand's table holds.

The gate reads it to drop identifying columns and columns the purpose does not need. The
schema only, pure; a silo reads its file (`federation.data.silo.load_column_map`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from compliance.errors import InputError
from compliance.policy.schemas import PolicySet
from compliance.subjects.schemas import BRAND_ID

# Names that can only name a thing: no path separators, quotes, semicolons or control
# characters, so a column map can neither reach outside its silo nor smuggle SQL or markup.
FILE_NAME = r"^[A-Za-z0-9_\-][A-Za-z0-9_\-.]{0,127}$"
COLUMN_NAME = r"^[^\x00-\x1f\x7f\"'`;\\/<>]{1,64}$"

ColumnName = Annotated[str, Field(pattern=COLUMN_NAME)]


class TableMap(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str = Field(pattern=FILE_NAME)
    key: ColumnName
    columns: dict[ColumnName, str]


class ColumnMap(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    brand_id: str = Field(pattern=BRAND_ID)
    jurisdiction: str = "pipl"
    customers: TableMap
    orders: TableMap

    def check(self, policies: PolicySet, source: str) -> None:
        for table in (self.customers, self.orders):
            for col, cat in table.columns.items():
                if cat not in policies.categories:
                    raise InputError(f"column '{col}' maps to unknown data category '{cat}'",
                                     file=source)
            if table.key not in table.columns:
                raise InputError(f"key column '{table.key}' is not in the column map",
                                 file=source)
