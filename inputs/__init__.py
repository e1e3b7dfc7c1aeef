"""The foundation: reading the files people give chidao (YAML with the line of every node, every problem
named by file and line) and Vietnamese text (NFC, collation, capitals). It imports nothing of the project,
so every layer above may stand on it."""
