variable "A" {
  type = number
}
variable "C" {
  type = number
}
target "default" {
  args = {
    SUM     = A + C
    DIFF    = A - C
    PROD    = A * C
    QUOT    = A / C
    NEG     = -A
    NEG_SUM = -A + C
    MIXED   = A + 1
    POWERS  = C * C * C * C * C * C * C * C * C * C * C
    MOD     = A % C
  }
}
