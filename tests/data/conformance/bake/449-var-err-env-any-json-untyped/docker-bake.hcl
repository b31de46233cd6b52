variable "ANY" {
  type = any
}
target "default" {
  args = {
    A = jsonencode(ANY)
  }
}
