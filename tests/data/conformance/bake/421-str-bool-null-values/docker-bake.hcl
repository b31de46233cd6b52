variable "FLAG" {
  default = true
}
variable "NOTHING" {
  default = null
}
target "default" {
  args = {
    BOOL        = true
    BOOL_TMPL   = "flag=${FLAG}"
    NOT         = !FLAG
    ONLY_BOOL   = "${FLAG}"
    NULL_ARG    = null
    NULL_VAR    = NOTHING
    COALESCE    = coalesce(NOTHING, "fallback")
    EQ_NULL     = NOTHING == null
    NULL_COND   = "${NOTHING == null ? "none" : NOTHING}"
  }
  labels = {
    "l.bool"  = false
    "l.num"   = 1.0
    "l.null"  = null
  }
  tags     = ["t:${1 + 1}", true, 3]
  no-cache = "true"
  pull     = "false"
}
