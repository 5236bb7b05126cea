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
