variable "CFG" {
  type    = object({ name = string, port = optional(number, 80) })
  default = { name = "x" }
}
target "default" {
  args = {
    NAME = CFG.name
  }
}
