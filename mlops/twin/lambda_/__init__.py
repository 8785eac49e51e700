"""AWS Lambda for the twin: real handlers in warm worker processes (moto runs Lambda code
only in Docker). The package is `lambda_` because `lambda` is a Python keyword."""
