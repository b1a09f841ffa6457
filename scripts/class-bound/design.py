# Derives the coefficients of focalMatchingCostLowerBound (Sources/LossDSL/Terms.swift): the coarse exp,
# the chord that handles ε, and R, K by minimax linear programming. Needs numpy and scipy.
import numpy as np
from scipy.optimize import linprog
EPS=1e-8; S=-np.log(EPS); LOG2E=1.4426950408889634
# 1. e^x: 2^f on [-1/2, 1/2], degree 2, minimax relative
f=np.linspace(-0.5,0.5,20001); y=2.0**f
V=np.vander(f,3,increasing=True)/y[:,None]
res=linprog([0,0,0,1],A_ub=np.vstack([np.hstack([V,-np.ones((len(f),1))]),np.hstack([-V,-np.ones((len(f),1))])]),
            b_ub=np.concatenate([np.ones(len(f)),-np.ones(len(f))]),bounds=[(None,None)]*4)
E=np.float32(res.x[:3]).astype(np.float64); print("exp coeffs", [float(np.float32(c)) for c in E], "rel err", res.x[3])
fe=np.linspace(-0.5,0.5,200001); print("  check rel err (f32 coeffs)", np.abs(np.polyval(E[::-1],fe)/2.0**fe-1).max())
def expc(x):
    yy=x*LOG2E; n=np.rint(yy); ff=yy-n; return np.polyval(E[::-1],ff)*2.0**n
# 2. the chord for x < 0: F(t) = P_eps(-t); A(tau) = P without eps
def F(t):
    u=np.exp(-t); p=u/(1+u); q=1/(1+u); return q*q*(-np.log(p+EPS))
def A0(tau):
    u=np.exp(-tau); return (tau+np.log1p(u))/(1+u)**2
dtr=1e-3
t1=np.log(dtr/EPS)
tt=np.linspace(0,60,120001)
def chord(tx):
    k=(F(tx)-F(t1))/(tx-t1); a=F(t1)-k*t1; return k,a,F(tx)
def tau_of(t,k,a,T2): return np.minimum(np.minimum(t,k*t+a),T2)
best=None
for tx in np.linspace(t1+2,28,2000):
    k,a,T2=chord(tx); g=F(tt)-A0(tau_of(tt,k,a,T2))
    if best is None or g.max()<best[0]: best=(g.max(),tx)
k,a,T2=chord(best[1]); k,a,T2=[float(np.float32(v)) for v in (k,a,T2)]
tau=tau_of(tt,k,a,T2); g=F(tt)-A0(tau)
print("chord: kappa",k,"a",a,"T2",T2,"t1",t1,"viol",(-g).max(),"gap",g.max(),"gap<=12",g[tt<=12].max(),"gap<=14",g[tt<=14].max())
# 3. R, K by LP: |t R(u~) + K(u~) - A(t)| <= e, |u~^2 K(u~) - b(t)| <= e for t in [0, 18.6]
t=np.concatenate([np.linspace(0,18.6,40001),np.linspace(0,1,4001)])
u=np.exp(-t); ut=expc(-t)
L=np.log1p(u); r=1/(1+u)**2; kk=L*r; Aex=r*(t+L); bex=u*u*kk
dR,dK=3,2
VR=np.vander(ut,dR+1,increasing=True); VK=np.vander(ut,dK+1,increasing=True)[:,1:]
MA=np.hstack([t[:,None]*VR,VK]); MB=np.hstack([np.zeros_like(VR),(ut*ut)[:,None]*VK])
rows=[];rhs=[]
for M,yv in ((MA,Aex),(MB,bex)):
    rows+= [np.hstack([M,-np.ones((len(t),1))]), np.hstack([-M,-np.ones((len(t),1))])]; rhs+=[yv,-yv]
nv=MA.shape[1]+1; c=np.zeros(nv); c[-1]=1
res=linprog(c,A_ub=np.vstack(rows),b_ub=np.concatenate(rhs),bounds=[(None,None)]*nv)
Rc=np.float32(res.x[:dR+1]).astype(np.float64); Kc=np.float32(res.x[dR+1:-1]).astype(np.float64)
print("R", [float(np.float32(v)) for v in Rc]); print("K (u^1..)", [float(np.float32(v)) for v in Kc]); print("LP e", res.x[-1])
R=np.polyval(Rc[::-1],ut); K=ut*np.polyval(Kc[::-1],ut)
print("A err", np.abs(t*R+K-Aex).max(), "b err", np.abs(ut*ut*K-bex).max())
