target "default" {
  args = {
    TOTAL = sum([1, 2])
  }
}
