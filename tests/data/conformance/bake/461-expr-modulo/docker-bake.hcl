target "default" {
  args = {
    FRACTION      = 1.1 % 1
    HALVES        = 7.5 % 2
    NEGATIVE      = -7 % 3
    NEG_DIVISOR   = 7 % -3
    EXACT         = -6 % 3
    HUGE_QUOTIENT = 1e300 % 3.3
    FUNCTION      = modulo(1e300, 3.3)
    BY_ZERO_FN    = modulo(10, 0)
    STEP          = 2.5 % 0.5
  }
}
