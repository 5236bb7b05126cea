# One pipeline's processor: an ECS cluster and a Fargate service on arm64 in the private
# subnets, running the shared image with the pipeline's spec, with a task role scoped to exactly
# what it does on Kafka. It holds nothing lake-bound: Firehose and the feature-writer read its
# aggregates from the topic.

locals {
  ecs_tasks_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  # The consumer group and transactional-id prefix: one a pipeline, so that services never
  # share a group.
  group     = "${var.pipeline}-processor"
  container = "processor"

  topic_arn = "${format(var.kafka_arn_pattern, "topic")}/"

  # Avro input through Glue: the processor reads schema versions (GetSchemaVersion, by the id a
  # record names and by the spec's schema and version number). Glue does not authorise a lookup
  # by version id against the registry's or schema's ARN: AWS's own deserializer example
  # ("Getting started with schema registry", IAM examples for deserializers) grants
  # GetSchemaVersion on "*", and awslabs/aws-glue-schema-registry#68 records the denial when
  # scoped. It reads schemas only, nothing else of Glue.
  glue_statements = var.glue_schema == null ? [] : [
    {
      Sid      = "ReadSchemaVersions"
      Effect   = "Allow"
      Action   = ["glue:GetSchemaVersion"]
      Resource = ["*"]
    },
  ]

  task_policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(local.glue_statements, [
      {
        Sid      = "ConnectAndProduceIdempotently"
        Effect   = "Allow"
        Action   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"]
        Resource = [var.cluster_arn]
      },
      {
        Sid      = "ReadTheInput"
        Effect   = "Allow"
        Action   = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
        Resource = ["${local.topic_arn}${var.input_topic}"]
      },
      {
        Sid      = "WriteAggregatesAndDeadLetters"
        Effect   = "Allow"
        Action   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
        Resource = ["${local.topic_arn}${var.output_topic}", "${local.topic_arn}${var.dead_letter_topic}"]
      },
      {
        Sid      = "CommitAsItsGroup"
        Effect   = "Allow"
        Action   = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"]
        Resource = ["${format(var.kafka_arn_pattern, "group")}/${local.group}", "${format(var.kafka_arn_pattern, "group")}/${local.group}-backfill"]
      },
      {
        # `processor replay` run as a one-off task reads the dead letters and writes the replay
        # topic; a backfill processor (group <pipeline>-processor-backfill) reads the replay
        # topic.
        Sid      = "ReplayDeadLetters"
        Effect   = "Allow"
        Action   = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
        Resource = ["${local.topic_arn}${var.dead_letter_topic}", "${local.topic_arn}${var.replay_topic}"]
      },
      {
        Sid      = "WriteTheReplayTopic"
        Effect   = "Allow"
        Action   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
        Resource = ["${local.topic_arn}${var.replay_topic}"]
      },
      {
        Sid      = "OwnItsTransactions"
        Effect   = "Allow"
        Action   = ["kafka-cluster:DescribeTransactionalId", "kafka-cluster:AlterTransactionalId"]
        Resource = ["${format(var.kafka_arn_pattern, "transactional-id")}/${local.group}*"]
      },
    ])
  })

  execution_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "PullItsImage"
        Effect   = "Allow"
        Action   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
        Resource = [var.repository_arn]
      },
      {
        # GetAuthorizationToken has no resource to scope to.
        Sid      = "LogInToEcr"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = ["*"]
      },
      {
        Sid      = "WriteItsLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.this.arn}:*"]
      },
      {
        Sid      = "DecryptTheImage"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [var.kms_key_arn]
      },
    ]
  })
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is set per environment in its tfvars (a year in prod; dev keeps less to save cost).
  name              = "/ecs/${var.name}/processor"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_iam_role" "task" {
  name               = "${var.name}-processor-task"
  assume_role_policy = local.ecs_tasks_trust
}

resource "aws_iam_role_policy" "task" {
  name   = "processor"
  role   = aws_iam_role.task.id
  policy = local.task_policy
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-processor-execution"
  assume_role_policy = local.ecs_tasks_trust
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-and-log"
  role   = aws_iam_role.execution.id
  policy = local.execution_policy
}

resource "aws_ecs_task_definition" "this" {
  family                   = "${var.name}-processor"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  task_role_arn            = aws_iam_role.task.arn
  execution_role_arn       = aws_iam_role.execution.arn

  runtime_platform {
    cpu_architecture        = "ARM64"
    operating_system_family = "LINUX"
  }

  container_definitions = jsonencode([{
    name                   = local.container
    image                  = "${var.repository_url}:${var.image_tag}"
    essential              = true
    command                = ["run"]
    readonlyRootFilesystem = true
    user                   = "65532:65532"
    stopTimeout            = 30
    portMappings           = [{ containerPort = 8080, protocol = "tcp" }]
    environment = [
      { name = "KAFKA_BROKERS", value = var.bootstrap_brokers },
      { name = "KAFKA_AUTH", value = "msk-iam" },
      { name = "AWS_REGION", value = var.region },
      { name = "PIPELINE_SPEC", value = "/etc/pipelines/${var.pipeline}.toml" },
      { name = "GLUE_REGISTRY_NAME", value = var.glue_schema == null ? "" : var.glue_schema.registry_name },
      { name = "PROCESSOR_GROUP", value = local.group },
      { name = "PROCESSOR_DELIVERY", value = var.delivery },
      { name = "HEALTH_ADDR", value = "0.0.0.0:8080" },
      { name = "SHUTDOWN_TIMEOUT_SECS", value = tostring(var.shutdown_seconds) },
      { name = "METRICS_NAMESPACE", value = var.metrics_namespace },
    ]
    healthCheck = {
      command     = ["CMD", "/processor", "probe", "--addr", "127.0.0.1:8080", "--path", "/health/live"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 60
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "processor"
      }
    }
  }])
}

resource "terraform_data" "topics_ready" {
  input = var.topics_ready
}

resource "aws_ecs_service" "this" {
  name                   = "processor"
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.this.arn
  desired_count          = var.desired_count
  launch_type            = "FARGATE"
  platform_version       = "LATEST"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  # Replacements start before old tasks stop; the group rebalances onto them, and each old task
  # hands its partitions over through the offsets it committed as it leaves (SIGTERM).
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [var.security_group_id]
    assign_public_ip = false
  }

  lifecycle {
    # Autoscaling owns the count after the first deploy.
    ignore_changes = [desired_count]
  }

  depends_on = [terraform_data.topics_ready]
}

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this.name}"
  min_capacity       = var.min_count
  max_capacity       = var.max_count
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.name}-processor-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.target_cpu
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# Records not yet handled, as the processor measures them: each task reports ConsumerLagTotal,
# the end of each of its partitions less one past the last record it has taken in; the policy
# tracks their average over the tasks (the backlog per task, which more tasks divide).
# Not MSK's SumOffsetLag: the committed offset never passes the first event of an open window,
# so it trails by the open windows (a minute of input with one-minute windows) even when
# nothing waits, and a target below that would never scale in. docs/deploy.md works an example.
resource "aws_appautoscaling_policy" "lag" {
  name               = "${var.name}-processor-lag"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.target_lag
    disable_scale_in   = false
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    customized_metric_specification {
      namespace   = var.metrics_namespace
      metric_name = "ConsumerLagTotal"
      statistic   = "Average"
      dimensions {
        name  = "Pipeline"
        value = var.pipeline
      }
      dimensions {
        name  = "Service"
        value = "processor"
      }
    }
  }
}
