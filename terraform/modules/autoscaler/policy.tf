# The autoscaler's one policy, rendered from the names of what Terraform created, and
# the S3 bucket the daemon reads it from (ECS_AUTOSCALER_POLICIES_DIR=s3://bucket/prefix/).
# Changing a policy is `terraform apply` (or `aws s3 cp` for a quick experiment), never
# an image rebuild.

locals {
  policy = templatefile("${path.module}/policy.toml.tftpl", {
    policy_name         = var.scaled_service_name
    cluster             = var.cluster_name
    service             = var.scaled_service_name
    region              = var.region
    target_group        = var.target_group_arn_suffix
    load_balancer       = var.load_balancer_arn_suffix
    min                 = var.min_count
    max                 = var.max_count
    dry_run             = var.dry_run
    cpu_target          = var.cpu_target
    p99_target_ms       = var.p99_target_ms
    requests_per_target = var.requests_per_target
    demand_per_task     = var.demand_per_task
    emf_namespace       = var.emf_namespace
    emf_dimensions      = var.emf_dimensions
  })

  policy_key   = "${var.policy_prefix}${var.scaled_service_name}.toml"
  policies_url = "s3://${aws_s3_bucket.policies.bucket}/${var.policy_prefix}"
}

resource "aws_s3_bucket" "policies" {
  #checkov:skip=CKV_AWS_18:Access logging needs a separate log bucket with its own policy and lifecycle; left to the operator's logging account (CloudTrail data events are the alternative).
  #checkov:skip=CKV_AWS_144:Cross-region replication of a few KB of policy text is an operator choice; Terraform can re-render and re-upload it at any time.
  #checkov:skip=CKV_AWS_145:Encrypted with SSE-S3 (AES-256). A customer-managed KMS key is an operator choice, and would need kms:Decrypt on the task role.
  #checkov:skip=CKV2_AWS_62:Nothing consumes event notifications; the daemon re-lists the prefix on its rescan interval.
  bucket_prefix = "${var.name}-policies-"
  force_destroy = var.policy_bucket_force_destroy
}

resource "aws_s3_bucket_ownership_controls" "policies" {
  bucket = aws_s3_bucket.policies.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "policies" {
  bucket                  = aws_s3_bucket.policies.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Every change keeps the previous version: rolling a policy back is copying an old
# version over the current one (docs/DEPLOY.md).
resource "aws_s3_bucket_versioning" "policies" {
  bucket = aws_s3_bucket.policies.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "policies" {
  bucket = aws_s3_bucket.policies.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "policies" {
  bucket = aws_s3_bucket.policies.id
  rule {
    id     = "expire-old-policy-versions"
    status = "Enabled"
    filter {}
    # Old versions are the rollback history; the current version never expires.
    noncurrent_version_expiration {
      noncurrent_days = var.policy_version_retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
  depends_on = [aws_s3_bucket_versioning.policies]
}

data "aws_iam_policy_document" "policies_bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.policies.arn,
      "${aws_s3_bucket.policies.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "policies" {
  bucket     = aws_s3_bucket.policies.id
  policy     = data.aws_iam_policy_document.policies_bucket.json
  depends_on = [aws_s3_bucket_public_access_block.policies]
}

resource "aws_s3_object" "policy" {
  bucket       = aws_s3_bucket.policies.id
  key          = local.policy_key
  content      = local.policy
  content_type = "application/toml"
  # Lets a plan notice a copy edited outside Terraform (valid for SSE-S3 objects).
  etag = md5(local.policy)

  lifecycle {
    precondition {
      condition     = var.min_count >= 1 && var.max_count >= var.min_count
      error_message = "The policy needs 1 <= min <= max (search_min_count, search_max_count)."
    }
  }

  depends_on = [
    aws_s3_bucket_versioning.policies,
    aws_s3_bucket_server_side_encryption_configuration.policies,
    aws_s3_bucket_policy.policies,
  ]
}
