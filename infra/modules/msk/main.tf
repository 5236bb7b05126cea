# MSK Serverless: IAM authentication only (SASL_SSL on 9098), reachable from the clients'
# security group only. Who may do what on the cluster, its topics, groups and transactional ids
# is in each client's IAM role (kafka-cluster:* actions scoped to those ARNs).
resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5:Attached to the cluster below (vpc_config of aws_msk_serverless_cluster, which the check does not know).
  name        = "${var.name}-msk"
  description = "MSK Serverless: Kafka over SASL_SSL with IAM from the pipeline's clients"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-msk" }
}

resource "aws_vpc_security_group_ingress_rule" "kafka_from_clients" {
  security_group_id            = aws_security_group.this.id
  description                  = "Kafka (SASL_SSL, IAM) from processor tasks and Lambdas"
  referenced_security_group_id = var.client_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 9098
  to_port                      = 9098
}

# The feature-writer's trigger (a Lambda event source mapping) polls from ENIs that Lambda puts
# in the cluster's subnets with the cluster's security groups, not the function's (Lambda:
# "Creating a Lambda event source mapping for an Amazon MSK event source", "Configuring your
# Amazon MSK cluster and Amazon VPC network for Lambda"). So this group must let its own members
# reach the brokers, and reach the STS and Lambda interface endpoints the pollers call on 443.
resource "aws_vpc_security_group_ingress_rule" "kafka_from_itself" {
  security_group_id            = aws_security_group.this.id
  description                  = "Kafka (SASL_SSL, IAM) from the event source mapping's pollers, which carry this group"
  referenced_security_group_id = aws_security_group.this.id
  ip_protocol                  = "tcp"
  from_port                    = 9098
  to_port                      = 9098
}

resource "aws_vpc_security_group_egress_rule" "kafka_to_itself" {
  security_group_id            = aws_security_group.this.id
  description                  = "The event source mapping's pollers to the brokers"
  referenced_security_group_id = aws_security_group.this.id
  ip_protocol                  = "tcp"
  from_port                    = 9098
  to_port                      = 9098
}

resource "aws_vpc_security_group_egress_rule" "https_to_endpoints" {
  security_group_id            = aws_security_group.this.id
  description                  = "The event source mapping's pollers to the STS and Lambda interface endpoints"
  referenced_security_group_id = var.endpoints_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_pollers" {
  security_group_id            = var.endpoints_security_group_id
  description                  = "HTTPS from the MSK event source mapping's pollers (the cluster's group)"
  referenced_security_group_id = aws_security_group.this.id
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}

resource "aws_msk_serverless_cluster" "this" {
  cluster_name = var.name

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = [aws_security_group.this.id]
  }

  client_authentication {
    sasl {
      iam {
        enabled = true
      }
    }
  }
}

locals {
  # arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID → the same with topic/, group/,
  # transactional-id/ in place of cluster/, the ARNs kafka-cluster actions are scoped to.
  arn_pattern = replace(aws_msk_serverless_cluster.this.arn, ":cluster/", ":%s/")
}

# Firehose reads the aggregates topic over a private connection it creates to the cluster; the
# cluster's resource policy must let the Firehose service principal create it (Firehose: "Grant
# Firehose access to your private Amazon MSK cluster"; the source's requirements in "Configure
# source settings for Amazon MSK": IAM access control and this policy).
resource "aws_msk_cluster_policy" "this" {
  cluster_arn = aws_msk_serverless_cluster.this.arn
  policy      = local.cluster_policy
}

locals {
  cluster_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "FirehoseConnectsPrivately"
      Effect    = "Allow"
      Principal = { Service = "firehose.amazonaws.com" }
      Action    = ["kafka:CreateVpcConnection"]
      Resource  = aws_msk_serverless_cluster.this.arn
    }]
  })
}
