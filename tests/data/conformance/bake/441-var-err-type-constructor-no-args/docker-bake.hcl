variable "V" {
  type    = list
  default = ["x"]
}
target "default" {
  tags = V
}
