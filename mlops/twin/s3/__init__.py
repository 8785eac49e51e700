"""Amazon S3 for the twin: events to EventBridge and bucket-policy conditions, as S3 and IAM
document them."""
