"""chidao's services: the steps of a cascade that the command line, the desk and the Prefect flows share
(starting a cascade, approval, dispatch, reporting, reminders, consolidation, status, accounts, who may
read what, audit and replay), and the settings. Below it: storage (db/), the domain (hierarchy/, letters/,
reports/, mail/) and the foundation (inputs/); above it, the faces (flows/, web/, cli/)."""

__version__ = "0.1.0"
