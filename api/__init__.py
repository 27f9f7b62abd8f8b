"""binroute edges: the Flask app and the CLI. Calls geo and routing."""
