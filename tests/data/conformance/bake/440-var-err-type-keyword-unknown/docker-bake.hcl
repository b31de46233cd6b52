variable "V" {
  type    = strng
  default = "x"
}
target "default" {
  args = {
    V = V
  }
}
