variable "M" {
  type    = map(string)
  default = {
    a = 1
    b = true
    c = "x"
    d = 1e21
  }
}
variable "L" {
  type    = list(string)
  default = [1, 2.5, false, "s"]
}
variable "S" {
  type    = set(string)
  default = [3, "10", 2, true, "2"]
}
variable "N" {
  type    = number
  default = "42"
}
variable "B" {
  type    = bool
  default = "true"
}
target "default" {
  args   = M
  tags   = L
  labels = {
    n   = N + 1
    b   = !B
    set = join(",", S)
  }
}
