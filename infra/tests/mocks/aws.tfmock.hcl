# What the mocked AWS provider answers for computed attributes the configuration feeds into
# others: ARNs, URLs and the brokers, in their real shapes. Shared by the tests in tests/.
mock_resource "aws_iam_role" {
  defaults = { arn = "arn:aws:iam::111111111111:role/mock" }
}
mock_resource "aws_msk_serverless_cluster" {
  defaults = {
    arn                        = "arn:aws:kafka:eu-west-1:111111111111:cluster/stock-ticks/0a1b2c3d-1111-2222-3333-444455556666-s1"
    bootstrap_brokers_sasl_iam = "boot-mock.c1.kafka-serverless.eu-west-1.amazonaws.com:9098"
  }
}
mock_resource "aws_kms_key" {
  defaults = { arn = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000" }
}
mock_resource "aws_sqs_queue" {
  defaults = {
    arn = "arn:aws:sqs:eu-west-1:111111111111:mock"
    url = "https://sqs.eu-west-1.amazonaws.com/111111111111/mock"
  }
}
mock_resource "aws_sagemaker_feature_group" {
  defaults = { arn = "arn:aws:sagemaker:eu-west-1:111111111111:feature-group/mock" }
}
mock_resource "aws_s3_bucket" {
  defaults = { arn = "arn:aws:s3:::mock" }
}
mock_resource "aws_cloudwatch_log_group" {
  defaults = { arn = "arn:aws:logs:eu-west-1:111111111111:log-group:mock" }
}
mock_resource "aws_kinesis_firehose_delivery_stream" {
  defaults = { arn = "arn:aws:firehose:eu-west-1:111111111111:deliverystream/mock" }
}
mock_resource "aws_lambda_function" {
  defaults = { arn = "arn:aws:lambda:eu-west-1:111111111111:function:mock" }
}
mock_resource "aws_cloudwatch_event_rule" {
  defaults = { arn = "arn:aws:events:eu-west-1:111111111111:rule/mock" }
}
mock_resource "aws_ecr_repository" {
  defaults = {
    arn            = "arn:aws:ecr:eu-west-1:111111111111:repository/mock"
    repository_url = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/mock"
  }
}
mock_resource "aws_ecs_task_definition" {
  defaults = { arn = "arn:aws:ecs:eu-west-1:111111111111:task-definition/mock:1" }
}
mock_resource "aws_sns_topic" {
  defaults = { arn = "arn:aws:sns:eu-west-1:111111111111:mock" }
}
mock_resource "aws_glue_registry" {
  defaults = { arn = "arn:aws:glue:eu-west-1:111111111111:registry/mock" }
}
mock_resource "aws_glue_schema" {
  defaults = { arn = "arn:aws:glue:eu-west-1:111111111111:schema/mock/mock" }
}
