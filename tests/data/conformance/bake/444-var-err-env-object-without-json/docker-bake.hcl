variable "OBJ" {
  type = object({ a = string })
}
target "default" {
  args = {
    A = OBJ.a
  }
}
