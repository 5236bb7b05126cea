terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 6.0.0"
    }
  }

  # The state lives in S3, one key per environment: `terraform init -backend-config=backends/<env>.s3.tfbackend`.
  backend "s3" {}
}
