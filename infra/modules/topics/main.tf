# Every apply whose topic list changed, or whose cluster is new, asks the topic-creator to make
# the cluster hold the topics: missing topics created, partition counts raised, differing
# configs set. It deletes only the topics named in `delete` (and its role may delete only
# those). A topic it cannot reconcile fails the invocation, and so the apply, naming the topic
# and the broker's reason.
resource "aws_lambda_invocation" "this" {
  function_name = var.function_name
  input = jsonencode({
    topics = [for t in var.topics : {
      name       = t.name
      partitions = t.partitions
      configs    = t.configs
    }]
    delete = var.delete
  })

  # A replaced cluster starts empty: invoke again for it, even with the same topic list.
  triggers = {
    cluster = var.cluster_arn
  }
}
