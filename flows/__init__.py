"""Prefect flows, orchestration only: `cascade`, `approved`, `dispatch`, `remind`, one per file, and `publish`
(what they show in Prefect's UI and say to its event bus); the steps they run are in chidao/ (services)."""
