variable "ON" {
  type = bool
}
target "default" {
  args = {
    ON = ON
  }
}
