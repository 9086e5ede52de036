# The daemon's durable state (ECS_AUTOSCALER_STATE_BACKEND=dynamodb): every target's
# history, the decision journal and the leader lease, in one table keyed pk/sk. The task
# holding the lease item decides and writes; the other stands by and takes the lease
# over when it is not renewed within the lease TTL (var.lease_ttl). Items the daemon
# gives an `expires` attribute (epoch seconds) are removed by DynamoDB's TTL, free of
# charge but up to a few days late: nothing may rely on an expired item being gone.

locals {
  state_table_name = coalesce(var.state_table_name, "${var.name}-autoscaler-state")
}

resource "aws_dynamodb_table" "state" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed key (aws/dynamodb). A customer-managed KMS key is an operator choice, and would need kms:Decrypt and kms:GenerateDataKey on the task role.
  name                        = local.state_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.state_table_deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "expires"
    enabled        = true
  }

  # Restore to any second of the last 35 days (the history, if a bad write ever needs
  # undoing); a restore creates a new table, see docs/DEPLOY.md.
  point_in_time_recovery {
    enabled = true
  }

  # enabled without kms_key_arn: the AWS managed key aws/dynamodb (not the AWS owned key
  # a table gets without this block), so key use shows in CloudTrail.
  server_side_encryption {
    enabled = true
  }
}
