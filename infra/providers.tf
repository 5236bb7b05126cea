provider "aws" {
  region = var.region
  # Applying one environment's tfvars to another account fails before anything is touched.
  allowed_account_ids = [var.account_id]

  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
