"""The text dtype of every frame the library builds.

pandas 3's ``"str"`` is ``pd.StringDtype(na_value=np.nan)``: missing text stays missing
(NaN). Under pandas 2 ``"str"`` means NumPy object text, and casting to it turns ``None``
into the word ``"None"``. Declaring the dtype itself gives the same frames under both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["TEXT"]

#: text columns and id indexes: pandas 3's "str" (needs pandas >= 2.3 for `na_value`)
TEXT = pd.StringDtype(na_value=np.nan)
