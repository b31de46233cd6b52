variable "ON" {
  default = true
}
target "default" {
  args = {
    NUM_OR_STR   = ON ? 1 : "one"
    STR_OR_NUM   = !ON ? "x" : 2.50
    BOOL_OR_STR  = ON ? true : "no"
    NUM_OR_NULL  = ON ? 5 : null
    NULL_OR_STR  = ON ? null : "x"
    TMPL         = "${ON ? 10 : "ten"}!"
  }
  tags      = ON ? ["a", 1] : ["b", "c"]
  platforms = ON ? [] : ["linux/amd64"]
}
