"""Lithops as the executor of other libraries' parallel APIs (:mod:`lithops.util.joblib`)."""

from __future__ import annotations
