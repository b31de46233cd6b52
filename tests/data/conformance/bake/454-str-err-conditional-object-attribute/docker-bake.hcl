variable "ON" {
  default = true
}
target "default" {
  args = {
    X = jsonencode(ON ? { a = [1, "x"] } : { a = [true, "y"] })
  }
}
