variable "BIG" {
  type = number
}
variable "TENTH" {
  type = number
}
variable "UNTYPED" {
  default = 0
}
variable "CSV" {
  type = list(number)
}
target "default" {
  args = {
    BIG         = BIG
    BIG_PLUS    = BIG + 1
    TENTH       = TENTH
    TENTH_TIMES = TENTH * 3
    UNTYPED     = UNTYPED
    UNTYPED_DIV = UNTYPED / 3
    CSV         = join(",", CSV)
  }
}
