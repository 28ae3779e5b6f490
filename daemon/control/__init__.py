"""Control: the daemon's Unix control socket (protocol, server, client)."""
