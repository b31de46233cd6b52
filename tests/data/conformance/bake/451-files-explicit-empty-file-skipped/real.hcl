target "default" {
  tags = ["real"]
}
