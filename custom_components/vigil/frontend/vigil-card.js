// Vigil dashboard card. Built from frontend/src by frontend/build.mjs; do not edit.
var Oe=Object.defineProperty;var Me=(i,e,t)=>e in i?Oe(i,e,{enumerable:!0,configurable:!0,writable:!0,value:t}):i[e]=t;var k=(i,e,t)=>Me(i,typeof e!="symbol"?e+"":e,t);var L=globalThis,z=L.ShadowRoot&&(L.ShadyCSS===void 0||L.ShadyCSS.nativeShadow)&&"adoptedStyleSheets"in Document.prototype&&"replace"in CSSStyleSheet.prototype,q=Symbol(),ne=new WeakMap,C=class{constructor(e,t,s){if(this._$cssResult$=!0,s!==q)throw Error("CSSResult is not constructable. Use `unsafeCSS` or `css` instead.");this.cssText=e,this.t=t}get styleSheet(){let e=this.o,t=this.t;if(z&&e===void 0){let s=t!==void 0&&t.length===1;s&&(e=ne.get(t)),e===void 0&&((this.o=e=new CSSStyleSheet).replaceSync(this.cssText),s&&ne.set(t,e))}return e}toString(){return this.cssText}},oe=i=>new C(typeof i=="string"?i:i+"",void 0,q),W=(i,...e)=>{let t=i.length===1?i[0]:e.reduce((s,r,n)=>s+(o=>{if(o._$cssResult$===!0)return o.cssText;if(typeof o=="number")return o;throw Error("Value passed to 'css' function must be a 'css' function result: "+o+". Use 'unsafeCSS' to pass non-literal values, but take care to ensure page security.")})(r)+i[n+1],i[0]);return new C(t,i,q)},ae=(i,e)=>{if(z)i.adoptedStyleSheets=e.map(t=>t instanceof CSSStyleSheet?t:t.styleSheet);else for(let t of e){let s=document.createElement("style"),r=L.litNonce;r!==void 0&&s.setAttribute("nonce",r),s.textContent=t.cssText,i.appendChild(s)}},K=z?i=>i:i=>i instanceof CSSStyleSheet?(e=>{let t="";for(let s of e.cssRules)t+=s.cssText;return oe(t)})(i):i;var{is:Ue,defineProperty:Ne,getOwnPropertyDescriptor:Re,getOwnPropertyNames:Te,getOwnPropertySymbols:He,getPrototypeOf:Le}=Object,D=globalThis,le=D.trustedTypes,ze=le?le.emptyScript:"",De=D.reactiveElementPolyfillSupport,P=(i,e)=>i,G={toAttribute(i,e){switch(e){case Boolean:i=i?ze:null;break;case Object:case Array:i=i==null?i:JSON.stringify(i)}return i},fromAttribute(i,e){let t=i;switch(e){case Boolean:t=i!==null;break;case Number:t=i===null?null:Number(i);break;case Object:case Array:try{t=JSON.parse(i)}catch{t=null}}return t}},de=(i,e)=>!Ue(i,e),ce={attribute:!0,type:String,converter:G,reflect:!1,useDefault:!1,hasChanged:de};Symbol.metadata??=Symbol("metadata"),D.litPropertyMetadata??=new WeakMap;var g=class extends HTMLElement{static addInitializer(e){this._$Ei(),(this.l??=[]).push(e)}static get observedAttributes(){return this.finalize(),this._$Eh&&[...this._$Eh.keys()]}static createProperty(e,t=ce){if(t.state&&(t.attribute=!1),this._$Ei(),this.prototype.hasOwnProperty(e)&&((t=Object.create(t)).wrapped=!0),this.elementProperties.set(e,t),!t.noAccessor){let s=Symbol(),r=this.getPropertyDescriptor(e,s,t);r!==void 0&&Ne(this.prototype,e,r)}}static getPropertyDescriptor(e,t,s){let{get:r,set:n}=Re(this.prototype,e)??{get(){return this[t]},set(o){this[t]=o}};return{get:r,set(o){let h=r?.call(this);n?.call(this,o),this.requestUpdate(e,h,s)},configurable:!0,enumerable:!0}}static getPropertyOptions(e){return this.elementProperties.get(e)??ce}static _$Ei(){if(this.hasOwnProperty(P("elementProperties")))return;let e=Le(this);e.finalize(),e.l!==void 0&&(this.l=[...e.l]),this.elementProperties=new Map(e.elementProperties)}static finalize(){if(this.hasOwnProperty(P("finalized")))return;if(this.finalized=!0,this._$Ei(),this.hasOwnProperty(P("properties"))){let t=this.properties,s=[...Te(t),...He(t)];for(let r of s)this.createProperty(r,t[r])}let e=this[Symbol.metadata];if(e!==null){let t=litPropertyMetadata.get(e);if(t!==void 0)for(let[s,r]of t)this.elementProperties.set(s,r)}this._$Eh=new Map;for(let[t,s]of this.elementProperties){let r=this._$Eu(t,s);r!==void 0&&this._$Eh.set(r,t)}this.elementStyles=this.finalizeStyles(this.styles)}static finalizeStyles(e){let t=[];if(Array.isArray(e)){let s=new Set(e.flat(1/0).reverse());for(let r of s)t.unshift(K(r))}else e!==void 0&&t.push(K(e));return t}static _$Eu(e,t){let s=t.attribute;return s===!1?void 0:typeof s=="string"?s:typeof e=="string"?e.toLowerCase():void 0}constructor(){super(),this._$Ep=void 0,this.isUpdatePending=!1,this.hasUpdated=!1,this._$Em=null,this._$Ev()}_$Ev(){this._$ES=new Promise(e=>this.enableUpdating=e),this._$AL=new Map,this._$E_(),this.requestUpdate(),this.constructor.l?.forEach(e=>e(this))}addController(e){(this._$EO??=new Set).add(e),this.renderRoot!==void 0&&this.isConnected&&e.hostConnected?.()}removeController(e){this._$EO?.delete(e)}_$E_(){let e=new Map,t=this.constructor.elementProperties;for(let s of t.keys())this.hasOwnProperty(s)&&(e.set(s,this[s]),delete this[s]);e.size>0&&(this._$Ep=e)}createRenderRoot(){let e=this.shadowRoot??this.attachShadow(this.constructor.shadowRootOptions);return ae(e,this.constructor.elementStyles),e}connectedCallback(){this.renderRoot??=this.createRenderRoot(),this.enableUpdating(!0),this._$EO?.forEach(e=>e.hostConnected?.())}enableUpdating(e){}disconnectedCallback(){this._$EO?.forEach(e=>e.hostDisconnected?.())}attributeChangedCallback(e,t,s){this._$AK(e,s)}_$ET(e,t){let s=this.constructor.elementProperties.get(e),r=this.constructor._$Eu(e,s);if(r!==void 0&&s.reflect===!0){let n=(s.converter?.toAttribute!==void 0?s.converter:G).toAttribute(t,s.type);this._$Em=e,n==null?this.removeAttribute(r):this.setAttribute(r,n),this._$Em=null}}_$AK(e,t){let s=this.constructor,r=s._$Eh.get(e);if(r!==void 0&&this._$Em!==r){let n=s.getPropertyOptions(r),o=typeof n.converter=="function"?{fromAttribute:n.converter}:n.converter?.fromAttribute!==void 0?n.converter:G;this._$Em=r;let h=o.fromAttribute(t,n.type);this[r]=h??this._$Ej?.get(r)??h,this._$Em=null}}requestUpdate(e,t,s,r=!1,n){if(e!==void 0){let o=this.constructor;if(r===!1&&(n=this[e]),s??=o.getPropertyOptions(e),!((s.hasChanged??de)(n,t)||s.useDefault&&s.reflect&&n===this._$Ej?.get(e)&&!this.hasAttribute(o._$Eu(e,s))))return;this.C(e,t,s)}this.isUpdatePending===!1&&(this._$ES=this._$EP())}C(e,t,{useDefault:s,reflect:r,wrapped:n},o){s&&!(this._$Ej??=new Map).has(e)&&(this._$Ej.set(e,o??t??this[e]),n!==!0||o!==void 0)||(this._$AL.has(e)||(this.hasUpdated||s||(t=void 0),this._$AL.set(e,t)),r===!0&&this._$Em!==e&&(this._$Eq??=new Set).add(e))}async _$EP(){this.isUpdatePending=!0;try{await this._$ES}catch(t){Promise.reject(t)}let e=this.scheduleUpdate();return e!=null&&await e,!this.isUpdatePending}scheduleUpdate(){return this.performUpdate()}performUpdate(){if(!this.isUpdatePending)return;if(!this.hasUpdated){if(this.renderRoot??=this.createRenderRoot(),this._$Ep){for(let[r,n]of this._$Ep)this[r]=n;this._$Ep=void 0}let s=this.constructor.elementProperties;if(s.size>0)for(let[r,n]of s){let{wrapped:o}=n,h=this[r];o!==!0||this._$AL.has(r)||h===void 0||this.C(r,void 0,n,h)}}let e=!1,t=this._$AL;try{e=this.shouldUpdate(t),e?(this.willUpdate(t),this._$EO?.forEach(s=>s.hostUpdate?.()),this.update(t)):this._$EM()}catch(s){throw e=!1,this._$EM(),s}e&&this._$AE(t)}willUpdate(e){}_$AE(e){this._$EO?.forEach(t=>t.hostUpdated?.()),this.hasUpdated||(this.hasUpdated=!0,this.firstUpdated(e)),this.updated(e)}_$EM(){this._$AL=new Map,this.isUpdatePending=!1}get updateComplete(){return this.getUpdateComplete()}getUpdateComplete(){return this._$ES}shouldUpdate(e){return!0}update(e){this._$Eq&&=this._$Eq.forEach(t=>this._$ET(t,this[t])),this._$EM()}updated(e){}firstUpdated(e){}};g.elementStyles=[],g.shadowRootOptions={mode:"open"},g[P("elementProperties")]=new Map,g[P("finalized")]=new Map,De?.({ReactiveElement:g}),(D.reactiveElementVersions??=[]).push("2.1.2");var te=globalThis,he=i=>i,j=te.trustedTypes,pe=j?j.createPolicy("lit-html",{createHTML:i=>i}):void 0,$e="$lit$",b=`lit$${Math.random().toFixed(9).slice(2)}$`,be="?"+b,je=`<${be}>`,x=document,M=()=>x.createComment(""),U=i=>i===null||typeof i!="object"&&typeof i!="function",se=Array.isArray,Ie=i=>se(i)||typeof i?.[Symbol.iterator]=="function",J=`[ 	
\f\r]`,O=/<(?:(!--|\/[^a-zA-Z])|(\/?[a-zA-Z][^>\s]*)|(\/?$))/g,ue=/-->/g,me=/>/g,v=RegExp(`>|${J}(?:([^\\s"'>=/]+)(${J}*=${J}*(?:[^ 	
\f\r"'\`<>=]|("|')|))|$)`,"g"),_e=/'/g,fe=/"/g,ve=/^(?:script|style|textarea|title)$/i,ie=i=>(e,...t)=>({_$litType$:i,strings:e,values:t}),c=ie(1),st=ie(2),it=ie(3),w=Symbol.for("lit-noChange"),l=Symbol.for("lit-nothing"),ge=new WeakMap,y=x.createTreeWalker(x,129);function ye(i,e){if(!se(i)||!i.hasOwnProperty("raw"))throw Error("invalid template strings array");return pe!==void 0?pe.createHTML(e):e}var Be=(i,e)=>{let t=i.length-1,s=[],r,n=e===2?"<svg>":e===3?"<math>":"",o=O;for(let h=0;h<t;h++){let a=i[h],p,u,d=-1,f=0;for(;f<a.length&&(o.lastIndex=f,u=o.exec(a),u!==null);)f=o.lastIndex,o===O?u[1]==="!--"?o=ue:u[1]!==void 0?o=me:u[2]!==void 0?(ve.test(u[2])&&(r=RegExp("</"+u[2],"g")),o=v):u[3]!==void 0&&(o=v):o===v?u[0]===">"?(o=r??O,d=-1):u[1]===void 0?d=-2:(d=o.lastIndex-u[2].length,p=u[1],o=u[3]===void 0?v:u[3]==='"'?fe:_e):o===fe||o===_e?o=v:o===ue||o===me?o=O:(o=v,r=void 0);let $=o===v&&i[h+1].startsWith("/>")?" ":"";n+=o===O?a+je:d>=0?(s.push(p),a.slice(0,d)+$e+a.slice(d)+b+$):a+b+(d===-2?h:$)}return[ye(i,n+(i[t]||"<?>")+(e===2?"</svg>":e===3?"</math>":"")),s]},N=class i{constructor({strings:e,_$litType$:t},s){let r;this.parts=[];let n=0,o=0,h=e.length-1,a=this.parts,[p,u]=Be(e,t);if(this.el=i.createElement(p,s),y.currentNode=this.el.content,t===2||t===3){let d=this.el.content.firstChild;d.replaceWith(...d.childNodes)}for(;(r=y.nextNode())!==null&&a.length<h;){if(r.nodeType===1){if(r.hasAttributes())for(let d of r.getAttributeNames())if(d.endsWith($e)){let f=u[o++],$=r.getAttribute(d).split(b),H=/([.?@])?(.*)/.exec(f);a.push({type:1,index:n,name:H[2],strings:$,ctor:H[1]==="."?Q:H[1]==="?"?X:H[1]==="@"?Y:S}),r.removeAttribute(d)}else d.startsWith(b)&&(a.push({type:6,index:n}),r.removeAttribute(d));if(ve.test(r.tagName)){let d=r.textContent.split(b),f=d.length-1;if(f>0){r.textContent=j?j.emptyScript:"";for(let $=0;$<f;$++)r.append(d[$],M()),y.nextNode(),a.push({type:2,index:++n});r.append(d[f],M())}}}else if(r.nodeType===8)if(r.data===be)a.push({type:2,index:n});else{let d=-1;for(;(d=r.data.indexOf(b,d+1))!==-1;)a.push({type:7,index:n}),d+=b.length-1}n++}}static createElement(e,t){let s=x.createElement("template");return s.innerHTML=e,s}};function E(i,e,t=i,s){if(e===w)return e;let r=s!==void 0?t._$Co?.[s]:t._$Cl,n=U(e)?void 0:e._$litDirective$;return r?.constructor!==n&&(r?._$AO?.(!1),n===void 0?r=void 0:(r=new n(i),r._$AT(i,t,s)),s!==void 0?(t._$Co??=[])[s]=r:t._$Cl=r),r!==void 0&&(e=E(i,r._$AS(i,e.values),r,s)),e}var Z=class{constructor(e,t){this._$AV=[],this._$AN=void 0,this._$AD=e,this._$AM=t}get parentNode(){return this._$AM.parentNode}get _$AU(){return this._$AM._$AU}u(e){let{el:{content:t},parts:s}=this._$AD,r=(e?.creationScope??x).importNode(t,!0);y.currentNode=r;let n=y.nextNode(),o=0,h=0,a=s[0];for(;a!==void 0;){if(o===a.index){let p;a.type===2?p=new R(n,n.nextSibling,this,e):a.type===1?p=new a.ctor(n,a.name,a.strings,this,e):a.type===6&&(p=new ee(n,this,e)),this._$AV.push(p),a=s[++h]}o!==a?.index&&(n=y.nextNode(),o++)}return y.currentNode=x,r}p(e){let t=0;for(let s of this._$AV)s!==void 0&&(s.strings!==void 0?(s._$AI(e,s,t),t+=s.strings.length-2):s._$AI(e[t])),t++}},R=class i{get _$AU(){return this._$AM?._$AU??this._$Cv}constructor(e,t,s,r){this.type=2,this._$AH=l,this._$AN=void 0,this._$AA=e,this._$AB=t,this._$AM=s,this.options=r,this._$Cv=r?.isConnected??!0}get parentNode(){let e=this._$AA.parentNode,t=this._$AM;return t!==void 0&&e?.nodeType===11&&(e=t.parentNode),e}get startNode(){return this._$AA}get endNode(){return this._$AB}_$AI(e,t=this){e=E(this,e,t),U(e)?e===l||e==null||e===""?(this._$AH!==l&&this._$AR(),this._$AH=l):e!==this._$AH&&e!==w&&this._(e):e._$litType$!==void 0?this.$(e):e.nodeType!==void 0?this.T(e):Ie(e)?this.k(e):this._(e)}O(e){return this._$AA.parentNode.insertBefore(e,this._$AB)}T(e){this._$AH!==e&&(this._$AR(),this._$AH=this.O(e))}_(e){this._$AH!==l&&U(this._$AH)?this._$AA.nextSibling.data=e:this.T(x.createTextNode(e)),this._$AH=e}$(e){let{values:t,_$litType$:s}=e,r=typeof s=="number"?this._$AC(e):(s.el===void 0&&(s.el=N.createElement(ye(s.h,s.h[0]),this.options)),s);if(this._$AH?._$AD===r)this._$AH.p(t);else{let n=new Z(r,this),o=n.u(this.options);n.p(t),this.T(o),this._$AH=n}}_$AC(e){let t=ge.get(e.strings);return t===void 0&&ge.set(e.strings,t=new N(e)),t}k(e){se(this._$AH)||(this._$AH=[],this._$AR());let t=this._$AH,s,r=0;for(let n of e)r===t.length?t.push(s=new i(this.O(M()),this.O(M()),this,this.options)):s=t[r],s._$AI(n),r++;r<t.length&&(this._$AR(s&&s._$AB.nextSibling,r),t.length=r)}_$AR(e=this._$AA.nextSibling,t){for(this._$AP?.(!1,!0,t);e!==this._$AB;){let s=he(e).nextSibling;he(e).remove(),e=s}}setConnected(e){this._$AM===void 0&&(this._$Cv=e,this._$AP?.(e))}},S=class{get tagName(){return this.element.tagName}get _$AU(){return this._$AM._$AU}constructor(e,t,s,r,n){this.type=1,this._$AH=l,this._$AN=void 0,this.element=e,this.name=t,this._$AM=r,this.options=n,s.length>2||s[0]!==""||s[1]!==""?(this._$AH=Array(s.length-1).fill(new String),this.strings=s):this._$AH=l}_$AI(e,t=this,s,r){let n=this.strings,o=!1;if(n===void 0)e=E(this,e,t,0),o=!U(e)||e!==this._$AH&&e!==w,o&&(this._$AH=e);else{let h=e,a,p;for(e=n[0],a=0;a<n.length-1;a++)p=E(this,h[s+a],t,a),p===w&&(p=this._$AH[a]),o||=!U(p)||p!==this._$AH[a],p===l?e=l:e!==l&&(e+=(p??"")+n[a+1]),this._$AH[a]=p}o&&!r&&this.j(e)}j(e){e===l?this.element.removeAttribute(this.name):this.element.setAttribute(this.name,e??"")}},Q=class extends S{constructor(){super(...arguments),this.type=3}j(e){this.element[this.name]=e===l?void 0:e}},X=class extends S{constructor(){super(...arguments),this.type=4}j(e){this.element.toggleAttribute(this.name,!!e&&e!==l)}},Y=class extends S{constructor(e,t,s,r,n){super(e,t,s,r,n),this.type=5}_$AI(e,t=this){if((e=E(this,e,t,0)??l)===w)return;let s=this._$AH,r=e===l&&s!==l||e.capture!==s.capture||e.once!==s.once||e.passive!==s.passive,n=e!==l&&(s===l||r);r&&this.element.removeEventListener(this.name,this,s),n&&this.element.addEventListener(this.name,this,e),this._$AH=e}handleEvent(e){typeof this._$AH=="function"?this._$AH.call(this.options?.host??this.element,e):this._$AH.handleEvent(e)}},ee=class{constructor(e,t,s){this.element=e,this.type=6,this._$AN=void 0,this._$AM=t,this.options=s}get _$AU(){return this._$AM._$AU}_$AI(e){E(this,e)}};var Fe=te.litHtmlPolyfillSupport;Fe?.(N,R),(te.litHtmlVersions??=[]).push("3.3.3");var xe=(i,e,t)=>{let s=t?.renderBefore??e,r=s._$litPart$;if(r===void 0){let n=t?.renderBefore??null;s._$litPart$=r=new R(e.insertBefore(M(),n),n,void 0,t??{})}return r._$AI(i),r};var re=globalThis,_=class extends g{constructor(){super(...arguments),this.renderOptions={host:this},this._$Do=void 0}createRenderRoot(){let e=super.createRenderRoot();return this.renderOptions.renderBefore??=e.firstChild,e}update(e){let t=this.render();this.hasUpdated||(this.renderOptions.isConnected=this.isConnected),super.update(e),this._$Do=xe(t,this.renderRoot,this.renderOptions)}connectedCallback(){super.connectedCallback(),this._$Do?.setConnected(!0)}disconnectedCallback(){super.disconnectedCallback(),this._$Do?.setConnected(!1)}render(){return w}};_._$litElement$=!0,_.finalized=!0,re.litElementHydrateSupport?.({LitElement:_});var Ve=re.litElementPolyfillSupport;Ve?.({LitElement:_});(re.litElementVersions??=[]).push("4.2.2");var A=["low","medium","high","critical"],Ae=["disarmed","home","away","night","vacation"],qe={min_level:"low",events:10};function I(i){if(!i||typeof i!="object")throw new Error("vigil-card: the config must be a mapping");let e={...qe,...i};if(!A.includes(e.min_level))throw new Error(`vigil-card: min_level must be one of ${A.join(", ")} (got ${e.min_level})`);let t=Number(e.events);if(!Number.isInteger(t)||t<1||t>100)throw new Error(`vigil-card: events must be a whole number from 1 to 100 (got ${e.events})`);if(e.events=t,e.cameras!==void 0&&!Array.isArray(e.cameras))throw new Error("vigil-card: cameras must be a list of camera names");if(e.entry_id!==void 0&&typeof e.entry_id!="string")throw new Error("vigil-card: entry_id must be a config entry ID");return e}function Ee(){return{ready:!1,mode:null,available:!1,cameras:[],events:[],silenced:{},title:"",entry_id:null}}function we(i,e){return e.start_time-i.start_time}function Se(i,e,t=100){switch(e.type){case"snapshot":return{ready:!0,title:e.title,entry_id:e.entry_id,mode:e.mode,available:e.available,cameras:e.cameras,silenced:e.silenced||{},events:[...e.events].sort(we).slice(0,t)};case"state":return{...i,mode:e.mode,available:e.available,cameras:e.cameras,silenced:e.silenced||{}};case"event":{let s=e.event,r=i.events.filter(n=>n.id!==s.id);return{...i,events:[s,...r].sort(we).slice(0,t)}}default:return i}}function B(i){return i.risk&&i.risk.risk_level||null}function We(i,e){return A.indexOf(i??"low")>=A.indexOf(e)}function ke(i,e){return i.events.filter(t=>!e.cameras||e.cameras.length===0||e.cameras.includes(t.camera)).filter(t=>We(B(t),e.min_level)).slice(0,e.events)}function Ce(i,e){return i.cameras.filter(t=>!e.cameras||e.cameras.length===0||e.cameras.includes(t.name))}function Pe(i,e){return i.events.find(t=>t.camera===e)||null}function m(i){if(!i)return"";let e=String(i).replace(/_/g," ");return e.charAt(0).toUpperCase()+e.slice(1)}function F(i,e,t=Date.now()){let s=e?.locale?.language||e?.language||void 0,n=e?.locale?.time_zone!=="local"&&e?.config?.time_zone?e.config.time_zone:void 0,o=new Date(i*1e3),a=Math.abs(t-o.getTime())<20*3600*1e3?{hour:"2-digit",minute:"2-digit",second:"2-digit",timeZone:n}:{month:"short",day:"numeric",hour:"2-digit",minute:"2-digit",timeZone:n};return new Intl.DateTimeFormat(s,a).format(o)}function Ke(i){return[{name:"title",selector:{text:{}}},{name:"entry_id",selector:{config_entry:{integration:"vigil"}}},{name:"cameras",selector:{select:{multiple:!0,custom_value:!0,options:i.map(e=>({value:e,label:m(e)}))}}},{name:"min_level",selector:{select:{mode:"dropdown",options:A.map(e=>({value:e,label:m(e)}))}}},{name:"events",selector:{number:{min:1,max:100,mode:"box"}}}]}async function Ge(){if(customElements.get("ha-form")||!window.loadCardHelpers)return;await(await(await window.loadCardHelpers()).createCardElement({type:"entities",entities:[]}))?.constructor?.getConfigElement?.()}var Je={title:"Title",entry_id:"Engine",cameras:"Cameras (none chosen: all)",min_level:"Minimum risk level",events:"Events shown"},V=class extends _{constructor(){super(),this._cameras=[],this._loadedFor=void 0}setConfig(e){this._config=e}connectedCallback(){super.connectedCallback(),Ge()}updated(){let e=this._config?.entry_id??"";this.hass?.connection&&this._loadedFor!==e&&(this._loadedFor=e,this._loadCameras(e))}async _loadCameras(e){let t={type:"vigil/subscribe",limit:1};e&&(t.entry_id=e);let s=null;try{s=await this.hass.connection.subscribeMessage(r=>{r.type==="snapshot"&&(this._cameras=r.cameras.map(n=>n.name))},t)}catch{this._cameras=[]}finally{s&&s()}}_changed(e){e.stopPropagation();let t={...e.detail.value};for(let r of Object.keys(t))(t[r]===""||t[r]===void 0||Array.isArray(t[r])&&t[r].length===0)&&delete t[r];let s=t;try{I(t)}catch{s=this._config}this._config=t,this.dispatchEvent(new CustomEvent("config-changed",{detail:{config:s},bubbles:!0,composed:!0}))}render(){return this._config?c`<ha-form
      .hass=${this.hass}
      .data=${this._config}
      .schema=${Ke(this._cameras)}
      .computeLabel=${e=>Je[e.name]??e.name}
      @value-changed=${this._changed}
    ></ha-form>`:l}};k(V,"properties",{hass:{attribute:!1},_config:{state:!0},_cameras:{state:!0}});customElements.get("vigil-card-editor")||customElements.define("vigil-card-editor",V);var Ze=1e4,T=class extends _{constructor(){super(),this._state=Ee(),this._error=null,this._selected=null,this._busy=!1,this._tick=0,this._unsub=null,this._subscribedFor=null}static getConfigElement(){return document.createElement("vigil-card-editor")}static getStubConfig(){return{min_level:"low",events:10}}setConfig(e){this._config=I(e),this._subscribedFor!==null&&(this._unsubscribe(),this._subscribe())}getCardSize(){return 3+Math.ceil((this._config?.events??10)/2)}getGridOptions(){return{columns:12,min_columns:6,rows:"auto"}}connectedCallback(){super.connectedCallback(),this._timer=setInterval(()=>{this._tick+=1},Ze),this.hass&&this._config&&this._subscribe()}disconnectedCallback(){super.disconnectedCallback(),clearInterval(this._timer),this._unsubscribe()}updated(e){e.has("hass")&&this.hass&&this._config&&this._subscribedFor===null&&this.isConnected&&this._subscribe(),e.has("_selected")&&this._selected&&this.renderRoot.querySelector(".dialog .close")?.focus()}async _subscribe(){let e=this._config.entry_id??"";this._subscribedFor=e;let t={type:"vigil/subscribe",limit:100};this._config.entry_id&&(t.entry_id=this._config.entry_id);try{let s=await this.hass.connection.subscribeMessage(r=>this._onMessage(r),t);if(this._subscribedFor!==e){s();return}this._unsub=s,this._error=null}catch(s){this._error=s?.message||String(s),this._subscribedFor=null}}_unsubscribe(){if(this._subscribedFor=null,this._unsub){let e=this._unsub;this._unsub=null,Promise.resolve(e()).catch(()=>{})}}_onMessage(e){this._state=Se(this._state,e),this._selected&&(this._selected=this._state.events.find(t=>t.id===this._selected.id)||this._selected)}async _call(e,t){this._busy=!0;try{let s=this._state.entry_id?{config_entry_id:this._state.entry_id}:{};await this.hass.callService("vigil",e,{...s,...t}),this._error=null}catch(s){this._error=s?.message||String(s)}finally{this._busy=!1}}_open(e){this._opener=this.renderRoot.activeElement||null,this._selected=e}_close(){this._selected=null,this._opener?.focus?.()}_onDialogKey(e){e.key==="Escape"&&(e.stopPropagation(),this._close())}render(){if(!this._config)return l;let e=this._state,t=this._config.title??"Vigil";return c`
      <ha-card>
        <div class="wrap">
          <header>
            <h2 class="title">${t}</h2>
            ${e.ready&&!e.available?c`<span class="chip bad" role="status">Engine offline</span>`:l}
          </header>
          ${this._error?c`<div class="error" role="alert">${this._error}</div>`:l}
          ${e.ready?this._renderBody(e):c`<div class="loading" role="status">Connecting to Vigil…</div>`}
        </div>
        ${this._selected?this._renderDialog(this._selected):l}
      </ha-card>
    `}_renderBody(e){let t=ke(e,this._config);return c`
      <div class="modes" role="group" aria-label="Arm mode">
        ${Ae.map(s=>c`
          <button class="mode ${e.mode===s?"active":""}" aria-pressed=${e.mode===s?"true":"false"}
            ?disabled=${this._busy} @click=${()=>this._call("set_mode",{mode:s})}>${m(s)}</button>`)}
      </div>
      <section class="cameras" aria-label="Cameras">
        ${Ce(e,this._config).map(s=>this._renderCamera(s,e))}
      </section>
      <section aria-label="Recent events">
        <h3>Recent events</h3>
        ${t.length===0?c`<p class="empty">No events yet.</p>`:c`
          <ul class="timeline">
            ${t.map(s=>c`<li>${this._renderRow(s)}</li>`)}
          </ul>`}
      </section>
    `}_cameraImage(e){let s=(e.entity_id&&this.hass?.states?.[e.entity_id])?.attributes?.entity_picture;return s?`${s}${s.includes("?")?"&":"?"}t=${this._tick}`:null}_renderCamera(e,t){let s=Pe(t,e.name),r=this._cameraImage(e),n=t.silenced?.[e.name],o=m(e.name);return c`
      <article class="camera" aria-label=${`Camera ${o}`}>
        ${r?c`<img class="live" src=${r} alt=${`Live image of ${o}`} loading="lazy" />`:c`<div class="live none">No image</div>`}
        <div class="cam-info">
          <strong>${o}</strong>
          <span class="chip ${e.online?"good":"bad"}">${e.online?"Online":"Offline"}</span>
          ${e.motion?c`<span class="chip warn">Motion</span>`:l}
          ${n?c`<span class="chip">Silenced</span>`:l}
          <div class="objects">${e.objects.length?e.objects.map(h=>`${h.count} ${h.label}`).join(", "):"No objects"}</div>
          ${s?c`<button class="last" @click=${()=>this._open(s)} aria-label=${`Latest event on ${o}: ${this._rowLabel(s)}`}>
            ${this._badge(s)} <span>${this._summary(s)}</span></button>`:c`<div class="last none">No events</div>`}
        </div>
      </article>
    `}_summary(e){return e.risk?.summary||(e.labels?.length?m(e.labels.join(", ")):"Event")}_source(e){let t=e.provider==="rules"?"Rules":"AI";return e.status==="pending"?`${t} \xB7 AI assessment pending`:e.status==="fallback"?`${t} (AI unavailable)`:t}_rowLabel(e){let t=B(e);return`${t?`${m(t)} risk`:"Not assessed"}, ${m(e.camera)}, ${F(e.start_time,this.hass)}`}_badge(e){let t=B(e);return c`<span class="badge ${t??"none"}">${t?m(t):"Pending"}</span>`}_renderRow(e){return c`
      <button class="event" data-event-id=${e.id} @click=${()=>this._open(e)} aria-label=${`Open event: ${this._rowLabel(e)}`}>
        ${e.snapshot_url?c`<img class="thumb" src=${e.snapshot_url} alt="" loading="lazy" />`:c`<div class="thumb none"></div>`}
        <div class="meta">
          <div class="line1">
            ${this._badge(e)}
            <span class="activity">${m(e.risk?.activity_type)||m(e.labels?.join(", "))}</span>
            ${e.end_time==null?c`<span class="chip warn">Ongoing</span>`:l}
            ${e.acknowledged?c`<span class="chip good">Acknowledged</span>`:l}
          </div>
          <div class="summary">${this._summary(e)}</div>
          <div class="when">${m(e.camera)} · <time>${F(e.start_time,this.hass)}</time></div>
        </div>
      </button>
    `}_renderDialog(e){return c`
      <div class="backdrop" @click=${()=>this._close()}></div>
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="vigil-dialog-title" @keydown=${this._onDialogKey}>
        <div class="dialog-head">
          <h3 id="vigil-dialog-title">${m(e.camera)} · ${F(e.start_time,this.hass)}</h3>
          <button class="close" aria-label="Close" @click=${()=>this._close()}>✕</button>
        </div>
        ${e.clip_url?c`<video controls playsinline preload="metadata" src=${e.clip_url} poster=${e.snapshot_url??""} aria-label="Event clip"></video>`:e.snapshot_url?c`<img class="still" src=${e.snapshot_url} alt="Event snapshot" />`:c`<p class="empty">No clip yet${e.end_time==null?": the event is still going on":""}.</p>`}
        <div class="line1">${this._badge(e)}
          ${e.risk?.risk_score!=null?c`<span>Score ${e.risk.risk_score}</span>`:l}
          <span class="activity">${m(e.risk?.activity_type)}</span>
          ${e.end_time==null?c`<span class="chip warn">Ongoing</span>`:l}
          ${e.risk?c`<span class="chip source">${this._source(e.risk)}</span>`:l}
        </div>
        <p class="summary">${this._summary(e)}</p>
        ${e.risk?.reasoning?c`<p class="reasoning">${e.risk.reasoning}</p>`:l}
        <div class="actions">
          <button class="ack" ?disabled=${this._busy||e.acknowledged}
            @click=${()=>this._call("acknowledge_event",{event_id:e.id})}>${e.acknowledged?"Acknowledged":"Acknowledge"}</button>
          <button class="protect" ?disabled=${this._busy} aria-pressed=${e.protected?"true":"false"}
            @click=${()=>this._call("protect_event",{event_id:e.id,protected:!e.protected})}>${e.protected?"Unprotect":"Protect"}</button>
        </div>
      </div>
    `}};k(T,"properties",{hass:{attribute:!1},_config:{state:!0},_state:{state:!0},_error:{state:!0},_selected:{state:!0},_busy:{state:!0},_tick:{state:!0}}),k(T,"styles",W`
    :host { display: block; container: vigil / inline-size; }
    ha-card { display: block; overflow: hidden; background: var(--ha-card-background, var(--card-background-color, #fff)); color: var(--primary-text-color, #212121); border-radius: var(--ha-card-border-radius, 12px); }
    .wrap { padding: 16px; }
    header { display: flex; align-items: center; gap: 8px; }
    .title { margin: 0; font-size: 1.3em; font-weight: 500; flex: 1; }
    h3 { margin: 16px 0 8px; font-size: 1.05em; font-weight: 500; }
    button { font: inherit; color: inherit; cursor: pointer; }
    button:focus-visible { outline: 2px solid var(--primary-color, #03a9f4); outline-offset: 2px; }
    .modes { display: flex; flex-wrap: wrap; gap: 6px; margin: 12px 0; }
    .mode { border: 1px solid var(--divider-color, #ccc); background: transparent; border-radius: 18px; padding: 6px 14px; }
    .mode.active { background: var(--primary-color, #03a9f4); color: var(--text-primary-color, #fff); border-color: var(--primary-color, #03a9f4); }
    .cameras { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px; }
    .camera { border: 1px solid var(--divider-color, #ddd); border-radius: 10px; overflow: hidden; }
    .live { display: block; width: 100%; aspect-ratio: 16 / 9; object-fit: cover; background: var(--secondary-background-color, #eee); }
    .live.none { display: flex; align-items: center; justify-content: center; color: var(--secondary-text-color, #666); }
    .cam-info { padding: 8px 10px; display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
    .objects { width: 100%; color: var(--secondary-text-color, #666); font-size: 0.9em; }
    .last { width: 100%; display: flex; gap: 8px; align-items: center; text-align: left; background: transparent; border: 0; padding: 4px 0; }
    .chip { font-size: 0.8em; padding: 2px 8px; border-radius: 10px; background: var(--secondary-background-color, #eee); }
    .chip.good { background: var(--success-color, #43a047); color: #fff; }
    .chip.bad { background: var(--error-color, #db4437); color: #fff; }
    .chip.warn { background: var(--warning-color, #ffa600); color: #000; }
    .badge { font-size: 0.8em; font-weight: 600; padding: 2px 8px; border-radius: 10px; color: #fff; white-space: nowrap; }
    .badge.low { background: var(--vigil-risk-low, var(--success-color, #2e7d32)); }
    .badge.medium { background: var(--vigil-risk-medium, var(--warning-color, #f9a825)); color: #000; }
    .badge.high { background: var(--vigil-risk-high, #ef6c00); }
    .badge.critical { background: var(--vigil-risk-critical, var(--error-color, #c62828)); }
    .badge.none { background: var(--disabled-text-color, #9e9e9e); }
    .timeline { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 6px; }
    .event { width: 100%; display: flex; gap: 10px; text-align: left; background: transparent; border: 1px solid var(--divider-color, #ddd); border-radius: 10px; padding: 6px; }
    .event:hover { background: var(--secondary-background-color, #f5f5f5); }
    .thumb { width: 96px; height: 64px; object-fit: cover; border-radius: 6px; flex: none; background: var(--secondary-background-color, #eee); }
    .meta { min-width: 0; display: flex; flex-direction: column; gap: 3px; }
    .line1 { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
    .activity { font-weight: 500; }
    .summary { color: var(--primary-text-color, #212121); }
    .when, .empty, .loading { color: var(--secondary-text-color, #666); font-size: 0.9em; }
    .error { color: var(--error-color, #db4437); margin: 8px 0; }
    .backdrop { position: fixed; inset: 0; background: rgba(0, 0, 0, 0.5); z-index: 10; }
    .dialog { position: fixed; z-index: 11; top: 50%; left: 50%; transform: translate(-50%, -50%); width: min(720px, 94vw); max-height: 92vh; overflow: auto; background: var(--ha-card-background, var(--card-background-color, #fff)); color: var(--primary-text-color, #212121); border-radius: 12px; padding: 16px; box-sizing: border-box; }
    .dialog-head { display: flex; align-items: center; }
    .dialog-head h3 { flex: 1; margin: 0 0 8px; }
    .close { background: transparent; border: 0; font-size: 1.2em; padding: 4px 8px; }
    video, .still { width: 100%; border-radius: 8px; background: #000; }
    .reasoning { color: var(--secondary-text-color, #666); white-space: pre-wrap; }
    .actions { display: flex; gap: 8px; justify-content: flex-end; }
    .actions button { border: 0; border-radius: 8px; padding: 8px 16px; background: var(--primary-color, #03a9f4); color: var(--text-primary-color, #fff); }
    .actions button[disabled] { opacity: 0.5; cursor: default; }
    @container vigil (max-width: 600px) {
      .cameras { grid-template-columns: 1fr; }
    }
    @media (max-width: 600px) {
      .cameras { grid-template-columns: 1fr; }
      .dialog { width: 100vw; max-height: 100vh; border-radius: 0; }
    }
  `);customElements.get("vigil-card")||customElements.define("vigil-card",T);window.customCards=window.customCards||[];window.customCards.some(i=>i.type==="vigil-card")||window.customCards.push({type:"vigil-card",name:"Vigil",description:"Arm mode, cameras and a live timeline of security events from a Vigil engine.",preview:!1,documentationURL:"https://github.com/vigil-security/vigil"});export{A as LEVELS,T as VigilCard};
/*! Bundled license information:

@lit/reactive-element/css-tag.js:
  (**
   * @license
   * Copyright 2019 Google LLC
   * SPDX-License-Identifier: BSD-3-Clause
   *)

@lit/reactive-element/reactive-element.js:
lit-html/lit-html.js:
lit-element/lit-element.js:
  (**
   * @license
   * Copyright 2017 Google LLC
   * SPDX-License-Identifier: BSD-3-Clause
   *)

lit-html/is-server.js:
  (**
   * @license
   * Copyright 2022 Google LLC
   * SPDX-License-Identifier: BSD-3-Clause
   *)
*/
