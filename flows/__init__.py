"""Prefect flows, orchestration only: `cascade`, `dispatch`, `remind`, one per file; the steps they run are
in chidao/ (services)."""
