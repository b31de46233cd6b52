variable "ON" {
  default = true
}
target "default" {
  tags = ON ? ["a", 1] : ["b"]
}
