variable "TAGS" {
  default = ["a", "b"]
}
target "default" {
  tags = ["x${TAGS}"]
}
