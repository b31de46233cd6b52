target "default" {
  args = { A = "1", B = "2", C = "3" }
  labels = {
    "a" = "1",
    "b" = "2",
  }
  contexts = { one = "./a", two = "./b", }
  annotations = [for k, v in { x = 1, y = 2 } : "${k}=${v}"]
}
