variable "L" {
  type = list(number)
}
variable "M" {
  type = map(string)
}
variable "N" {
  type = number
}
variable "B" {
  type = bool
}
variable "S" {
  type = set(string)
}
variable "T" {
  type = tuple([string, bool])
}
variable "A" {
  default = 0.5
}
target "default" {
  args = {
    L = jsonencode(L)
    M = jsonencode(M)
    N = N
    B = B
    S = jsonencode(S)
    T = jsonencode(T)
    A = A
  }
}
