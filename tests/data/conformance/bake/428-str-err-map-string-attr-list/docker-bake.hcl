target "default" {
  args = {
    A = [1, 2]
  }
}
