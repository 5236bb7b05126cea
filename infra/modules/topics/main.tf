# Every apply whose topic list changed asks the topic-creator to make the cluster match it:
# missing topics created, partition counts raised, differing configs set. It never deletes a
# topic (that takes a `delete` list, given by hand). A topic it cannot reconcile fails the
# invocation, and so the apply, naming the topic and the broker's reason.
resource "aws_lambda_invocation" "this" {
  function_name = var.function_name
  input = jsonencode({
    topics = [for t in var.topics : {
      name       = t.name
      partitions = t.partitions
      configs    = t.configs
    }]
  })
}
