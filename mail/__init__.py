"""E-mail: the letters' messages, sending them through aiosmtplib, and a local sink (aiosmtpd)."""
