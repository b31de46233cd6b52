variable "V" {
  type    = string(1)
  default = "x"
}
target "default" {
  args = {
    V = V
  }
}
