"""Business rules. Pure functions over plain values and adapters; no os.environ, no boto3."""
