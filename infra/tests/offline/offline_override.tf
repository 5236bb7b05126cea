# Test only: copied next to the root module by scripts/terraform-checks so that `terraform plan`
# runs with no AWS account and no network. Never in infra/ itself.
provider "aws" {
  access_key                  = "offline-plan"
  secret_key                  = "offline-plan"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  # No account to check against offline.
  allowed_account_ids = null
}

terraform {
  backend "local" {}
}
