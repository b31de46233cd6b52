variable "TAGS" {
  default = ["a", "b"]
}
variable "ARGS" {
  default = {
    X = 1
    Y = true
  }
}
target "default" {
  tags   = "${TAGS}"
  args   = "${ARGS}"
  labels = {
    num  = "${1.50}"
    bool = "${true}"
    list = "${length(TAGS)}"
  }
  platforms = "${[]}"
}
