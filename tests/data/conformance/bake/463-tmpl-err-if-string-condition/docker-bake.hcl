variable "XS" {
  default = ["a", "b"]
}
variable "NOTHING" {
  default = null
}
target "default" {
  args = {
    X = "%{ if "yes" }x%{ endif }"
  }
}
