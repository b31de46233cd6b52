variable "ON" {
  default = true
}
target "default" {
  args = {
    NUM_OR_BOOL = ON ? 1 : false
  }
}
